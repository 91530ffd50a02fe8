"""The screening engine: loading FtM files, normalisation, scoring, filters, API contract."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arka.base.errors import ArkaError
from arka.screening import (
    SCHEMATA,
    DatasetError,
    Query,
    Screener,
    ScreeningError,
    ascii_text,
    compatible,
    load_dataset,
    name_form,
)
from arka.screening.index import needed_hits
from arka.screening.match import token_similarity

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "screening"


def ent(eid: str, schema: str = "Person", **props: Any) -> dict[str, Any]:
    props.setdefault("topics", ["sanction"])
    return {"id": eid, "schema": schema,
            "properties": {k: v if isinstance(v, list) else [v] for k, v in props.items()}}


def write(path: Path, rows: list[Any], gz: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                   for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample() -> Screener:
    return Screener([load_dataset(FIXTURES / "sample.ftm.json")])


# ---------------------------------------------------------------- loading

def test_load_plain_and_gzip_give_the_same_entities(tmp_path: Path) -> None:
    rows = [ent("a", name="Ivan Petrov", birthDate="1970-01-02", country="RU"),
            ent("b", "Company", name="Acme Trading LLC", jurisdiction="cy")]
    plain = load_dataset(write(tmp_path / "list.ftm.json", rows))
    packed = load_dataset(write(tmp_path / "list.ftm.json.gz", rows, gz=True))
    assert plain.name == packed.name == "list"
    assert plain.records == packed.records == 2
    assert plain.version.startswith("sha256:") and plain.version != packed.version
    assert {e.id: e.content_hash for e in plain.entities.values()} == \
        {e.id: e.content_hash for e in packed.entities.values()}
    a = plain.entities["a"]
    assert (a.schema, a.caption, a.names, a.birth_dates, a.countries, a.datasets) == \
        ("Person", "Ivan Petrov", ("Ivan Petrov",), ("1970-01-02",), ("ru",), ("list",))
    assert load_dataset(tmp_path / "list.ftm.json", name="custom").name == "custom"


def test_entity_fields_follow_ftm(tmp_path: Path) -> None:
    row = ent("p", name="Ivan Petrov", alias=["I. Petrov"], previousName="Ivan Sidorov",
              weakAlias="Vanya", nationality="RU", citizenship="by", jurisdiction="CY",
              topics=["sanction", "role.pep"])
    row["caption"] = "PETROV, Ivan"
    row["datasets"] = ["us_ofac_sdn"]
    e = load_dataset(write(tmp_path / "x.json", ["", row, "  "])).entities["p"]
    assert e.caption == "PETROV, Ivan"
    assert e.names == ("Ivan Petrov", "I. Petrov", "Ivan Sidorov")
    assert e.weak_names == ("Vanya",)
    assert e.countries == ("ru", "by", "cy")
    assert e.topics == ("sanction", "role.pep")
    assert e.sources == ("us_ofac_sdn",)


def test_content_hash_is_canonical(tmp_path: Path) -> None:
    a = {"id": "x", "schema": "Person", "properties": {"name": ["A B", "C D"]},
         "last_seen": "2024-01-01"}
    b = {"last_seen": "2025-02-02", "properties": {"name": ["C D", "A B"]}, "schema": "Person",
         "id": "x"}
    c = {"id": "x", "schema": "Person", "properties": {"name": ["A B", "C E"]}}
    h = [load_dataset(write(tmp_path / f"{i}.json", [r])).entities["x"].content_hash
         for i, r in enumerate((a, b, c))]
    assert h[0] == h[1] != h[2]
    assert h[0].startswith("sha256:") and len(h[0]) == 7 + 64


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "not JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"schema": "Person", "properties": {}}', "has no id"),
    ('{"id": "x", "properties": {}}', "has no schema"),
    ('{"id": "x", "schema": "Person", "properties": []}', "properties must be an object"),
    ('{"id": "x", "schema": "Person", "properties": {"name": "A"}}',
     "property 'name' must be a list of strings"),
    ('{"id": "x", "schema": "Person", "properties": {"name": [1]}}',
     "property 'name' must be a list of strings"),
    ('{"id": "x", "schema": "Person", "properties": {}, "datasets": "a"}',
     "datasets must be a list of strings"),
])
def test_malformed_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "bad.json", [ent("ok", name="Fine Name"), "", line])
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    err = info.value
    assert isinstance(err, ArkaError) and err.code == "E_DATASET"
    assert f"{path}:3:" in err.message and message in err.message


def test_unreadable_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "missing.json")
    (tmp_path / "bad.json.gz").write_bytes(b"not gzip")
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "bad.json.gz")


def test_duplicate_ids_merge_and_conflicting_schemas_fail(tmp_path: Path) -> None:
    rows = [ent("d", "LegalEntity", name="Ivan Petrov", topics=["sanction"]),
            ent("d", "Person", alias="Iwan Petrow", birthDate="1970", topics=["role.pep"])]
    ds = load_dataset(write(tmp_path / "dup.json", rows))
    e = ds.entities["d"]
    assert ds.records == 2 and len(ds) == 1
    assert e.schema == "Person" and e.names == ("Ivan Petrov", "Iwan Petrow")
    assert e.topics == ("sanction", "role.pep") and e.birth_dates == ("1970",)
    bad = write(tmp_path / "clash.json", [ent("v", name="X"), ent("v", "Vessel", name="X")])
    with pytest.raises(DatasetError, match=r"clash.json:2: .*Vessel.*Person on line 1"):
        load_dataset(bad)


def test_several_datasets_screen_a_shared_entity_once(tmp_path: Path) -> None:
    one = load_dataset(write(tmp_path / "us.json", [ent("s", name="Ivan Petrov")]))
    two = load_dataset(write(tmp_path / "eu.json", [ent("s", name="Ivan Petrov",
                                                        birthDate="1970-01-02"),
                                                    ent("t", name="Olga Petrova")]))
    screener = Screener([one, two])
    assert screener.versions == [
        {"name": "us", "version": one.version, "records": 1},
        {"name": "eu", "version": two.version, "records": 2}]
    result = screener.screen(Query("Ivan Petrov"))
    assert [m.entity_id for m in result.matches] == ["s"]
    assert result.matches[0].datasets == ("us", "eu")
    assert result.matches[0].birth_dates == ("1970-01-02",)
    with pytest.raises(ScreeningError, match="distinct"):
        Screener([one, one])


# ---------------------------------------------------------------- normalisation

@pytest.mark.parametrize(("raw", "expected"), [
    ("Müller-Lüdenscheid", "muller ludenscheid"),
    ("Владимир Путин", "vladimir putin"),
    ("毛泽东", "mao ze dong"),
    ("Γιώργος", "giorgos"),
    ("O'Brien, J.", "obrien j"),
    ("ＡＢＣ ﬁle", "abc file"),
    ("  Al-Qaddafi  ", "al qaddafi"),
])
def test_ascii_text(raw: str, expected: str) -> None:
    assert ascii_text(raw) == expected


def test_name_forms_weights_and_noise() -> None:
    person = name_form("Dr. Muammar al-Qaddafi", organisation=False)
    assert person.tokens == ("muammar", "al", "qaddafi")
    assert person.weights == (1.0, 0.3, 1.0)
    org = name_form("Acme Holdings Limited", organisation=True)
    assert org.tokens == ("acme", "holding", "ltd") and org.weights == (1.0, 0.3, 0.3)
    assert name_form("Vladimir Vladimirovich Putin", False).weights == (1.0, 0.3, 1.0)
    assert name_form("Mr", False).tokens == ("mr",)  # nothing but noise: kept


def test_token_similarity_kinds() -> None:
    assert token_similarity("putin", "putin") == (1.0, "token_exact")
    assert token_similarity("j", "john") == (0.8, "token_initial")
    assert token_similarity("qaddafi", "kadhafi")[1] == "token_phonetic"
    assert token_similarity("aleksandr", "alexander")[1] == "token_phonetic"
    assert token_similarity("zawahiri", "zawahry")[1] == "token_fuzzy"
    assert token_similarity("hlaing", "hliang")[0] > 0.9
    assert token_similarity("putin", "pushkin")[0] == 0.0


@pytest.mark.parametrize(("query", "schema"), [
    ("Muammar Gaddafi", "Person"), ("Moammar Qaddafi", "Person"),
    ("Mu'ammar Kadhafi", "Person"), ("Gaddafi, Muammar", "Person"),
    ("Aleksandr Lukashenko", "Person"), ("Alexander Lukashenko", "Person"),
    ("Mao Zedong", "Person"), ("Mao Tse-tung", "Person"), ("毛泽东", "Person"),
    ("Vladimir Putin", "Person"), ("V. Putin", "Person"), ("Владимир Путин", "Person"),
    ("José García Lopez", "Person"), ("Jose Garcia Lopez", "Person"),
    ("Acme Trading Ltd", "Company"), ("ACME TRADING LIMITED", "Organization"),
])
def test_variants_match(sample: Screener, query: str, schema: str) -> None:
    result = sample.screen(Query(query, schema=schema, topics=("sanction", "role.pep")))
    assert result.hit, query


def test_rare_surname_finds_a_given_name_beyond_the_fuzzy_keys(sample: Screener) -> None:
    # `giorgos` shares no index key with `georgios`; the rare surname still blocks
    result = sample.screen(Query("Giorgos Papandreou", topics=("role.pep",)))
    assert [m.entity_id for m in result.matches] == ["papandreou"]


def test_missing_middle_name_matches_lone_surname_does_not(sample: Screener) -> None:
    assert sample.screen(Query("Vladimir Putin")).score >= Decimal("0.9")
    assert not sample.screen(Query("Putin")).hit
    assert not sample.screen(Query("Vladimir Pushkin")).hit


# ---------------------------------------------------------------- filters and evidence

def test_schema_compatibility() -> None:
    assert compatible("Person", "Person") and compatible("Person", "LegalEntity")
    assert compatible("LegalEntity", "Person") and compatible("LegalEntity", "Organization")
    assert compatible("Company", "Organization") and compatible("Organization", "Company")
    assert compatible("Company", "LegalEntity")
    assert not compatible("Person", "Vessel") and not compatible("Person", "Organization")
    assert not compatible("Vessel", "Company") and not compatible("Person", "Sanction")


def test_schema_filter_in_screening(sample: Screener) -> None:
    assert not sample.screen(Query("Sea Breeze")).hit  # a Vessel's name, Person query
    assert sample.screen(Query("Sea Breeze", schema="Vessel")).hit
    assert sample.screen(Query("Acme Trading", schema="LegalEntity")).hit
    assert not sample.screen(Query("Acme Trading")).hit


def test_topics(sample: Screener) -> None:
    # mao carries role.pep only; acme-linked carries sanction.linked only
    assert not sample.screen(Query("Mao Zedong")).hit
    assert sample.screen(Query("Mao Zedong", topics=("role.pep",))).hit
    linked = Query("Acme Shipping", schema="Company")
    assert not sample.screen(linked).hit
    assert sample.screen(Query("Acme Shipping", schema="Company",
                               topics=("sanction.linked",))).hit


def test_birth_date_evidence(sample: Screener) -> None:
    base = sample.screen(Query("Muammar Gaddafi")).score
    day = sample.screen(Query("Muammar Gaddafi", birth_date="1942-06-07"))
    year = sample.screen(Query("Muammar Gaddafi", birth_date="1942"))
    assert day.score == Decimal("1.0000") and year.score == Decimal("1.0000")
    assert "birth_date_match" in features(day) and "birth_year_match" in features(year)
    typo = sample.screen(Query("Moammar Qadhafi", birth_date="1942-06-07", threshold=Decimal(0)))
    plain = sample.screen(Query("Moammar Qadhafi", threshold=Decimal(0)))
    assert typo.score > plain.score
    other_year = sample.screen(Query("Muammar Gaddafi", birth_date="1950"))
    assert not other_year.hit
    low = sample.screen(Query("Muammar Gaddafi", birth_date="1950", threshold=Decimal(0)))
    assert low.score == base - Decimal("0.3") and "birth_year_mismatch" in features(low)
    other_day = sample.screen(Query("Muammar Gaddafi", birth_date="1942-01-01"))
    assert not other_day.hit


def test_country_evidence(sample: Screener) -> None:
    q = dict(name="Vladimir Putin", threshold=Decimal(0))
    plain = sample.screen(Query(**q)).score  # type: ignore[arg-type]
    same = sample.screen(Query(**q, countries=("RU",)))  # type: ignore[arg-type]
    other = sample.screen(Query(**q, countries=("us",)))  # type: ignore[arg-type]
    assert same.score == min(plain + Decimal("0.03"), Decimal(1))
    assert other.score == plain - Decimal("0.25")
    assert "country_mismatch" in features(other)
    elsewhere = {m.entity_id for m in sample.screen(Query("Ivan Petrov", countries=("us",))).matches}
    assert "ivan-1" not in elsewhere  # listed in ru only
    assert "ivan-2" in elsewhere  # lists no country: no evidence either way
    either = {m.entity_id for m in sample.screen(Query("Ivan Petrov", countries=("ru", "us"))).matches}
    assert "ivan-1" in either


def features(result: Any) -> set[str]:
    return {c.feature for m in result.matches for c in m.explanation}


# ---------------------------------------------------------------- results and determinism

def test_explanation_adds_up(sample: Screener) -> None:
    result = sample.screen(Query("Moammar Qadhafi", birth_date="1942", countries=("ly",)))
    match = result.matches[0]
    assert match.entity_id == "gaddafi"
    kinds = [(c.feature, c.query, c.candidate) for c in match.explanation]
    assert ("token_phonetic", "moammar", "muammar") in kinds
    assert ("birth_year_match", "1942", "1942-06-07") in kinds
    assert ("country_match", "ly", "ly") in kinds
    assert sum(c.contribution for c in match.explanation) == match.score
    assert match.score == match.score.quantize(Decimal("0.0001"))
    data = match.to_json()
    assert data["score"] == str(match.score) and isinstance(data["score"], str)
    assert all(isinstance(c["contribution"], str) for c in data["explanation"])
    assert data["entity_hash"].startswith("sha256:")
    json.dumps(result.to_json())


def test_result_order_limit_and_threshold(sample: Screener) -> None:
    result = sample.screen(Query("Ivan Petrov", limit=2, threshold=Decimal("0.5")))
    scores = [(m.score, m.entity_id) for m in result.matches]
    assert len(scores) == 2 and scores == sorted(scores, key=lambda s: (-s[0], s[1]))
    assert result.score == scores[0][0] and result.hit
    empty = sample.screen(Query("Nobody Known"))
    assert (empty.hit, empty.score, empty.matches) == (False, Decimal(0), ())


def test_ties_are_ordered_by_entity_id(tmp_path: Path) -> None:
    rows = [ent(eid, name="Omar Haddad") for eid in ("z9", "a1", "m5")]
    screener = Screener([load_dataset(write(tmp_path / "t.json", rows))])
    assert [m.entity_id for m in screener.screen(Query("Omar Haddad")).matches] == \
        ["a1", "m5", "z9"]


def test_determinism_across_calls_and_rebuilds(sample: Screener) -> None:
    queries = [Query("Moammar Qadhafi", birth_date="1942"), Query("V. Putin"),
               Query("Acme Trading Ltd", schema="Company"), Query("Ivan Petrov",
                                                                   threshold=Decimal("0.3"))]
    first = [sample.screen(q).to_json() for q in queries]
    again = [sample.screen(q).to_json() for q in queries]
    fresh = Screener([load_dataset(FIXTURES / "sample.ftm.json")])
    rebuilt = [fresh.screen(q).to_json() for q in queries]
    assert first == again == rebuilt


def test_blocking_bound() -> None:
    assert [needed_hits(n, 0.67) for n in range(1, 6)] == [1, 2, 2, 3, 3]


# ---------------------------------------------------------------- query validation

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": ""}, "non-empty"),
    ({"name": "   "}, "non-empty"),
    ({"name": "!!!"}, "no letters"),
    ({"name": "x" * 501}, "longer than"),
    ({"name": "A", "schema": "Human"}, "unknown schema 'Human'; known schemata: Airplane"),
    ({"name": "A", "birth_date": "1962-13-01"}, "not a real date"),
    ({"name": "A", "birth_date": "01/05/1962"}, "is not YYYY"),
    ({"name": "A", "threshold": Decimal("1.5")}, "between 0 and 1"),
    ({"name": "A", "threshold": 0.8}, "between 0 and 1"),
    ({"name": "A", "threshold": "abc"}, "must be a decimal"),
    ({"name": "A", "limit": 0}, "limit"),
    ({"name": "A", "topics": ()}, "at least one topic"),
    ({"name": "A", "topics": ("sanctions",)}, "unknown topic 'sanctions'"),
    ({"name": "A", "topics": "sanction"}, "sequence of topic names"),
    ({"name": "A", "countries": ("R U",)}, "invalid country code"),
])
def test_query_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ScreeningError) as info:
        Query(**kwargs)
    assert info.value.code == "E_SCREENING" and message in info.value.message


def test_query_defaults_and_known_schemata() -> None:
    q = Query("Ivan Petrov", countries=("RU", "ru"))
    assert (q.schema, q.topics, q.threshold, q.limit, q.countries) == \
        ("Person", ("sanction",), Decimal("0.8"), 10, ("ru",))
    assert {"Person", "Company", "Organization", "LegalEntity", "Vessel"} <= set(SCHEMATA)


def test_weak_alias_needs_supporting_evidence(sample: Screener) -> None:
    alone = sample.screen(Query("El Chapo", threshold=Decimal(0)))
    assert alone.matches[0].entity_id == "guzman"
    assert alone.matches[0].score == Decimal("0.7500")
    assert alone.matches[0].explanation[0].feature == "name_exact_weak_alias"
    assert not sample.screen(Query("El Chapo")).hit
    assert sample.screen(Query("El Chapo", birth_date="1957-04-04")).score == Decimal("0.8500")


def test_records_that_are_not_screenable(sample: Screener) -> None:
    ds = load_dataset(FIXTURES / "sample.ftm.json")
    assert ds.records == len(ds) == 15
    assert {"addr-1", "sanction-1"} <= ds.entities.keys()
    assert {e.id for e in sample.entities}.isdisjoint({"addr-1", "sanction-1"})
    assert not sample.screen(Query("UN 1970", schema="LegalEntity")).hit


def test_schema_clash_across_datasets(tmp_path: Path) -> None:
    one = load_dataset(write(tmp_path / "a.json", [ent("x", name="Sea Queen")]))
    two = load_dataset(write(tmp_path / "b.json", [ent("x", "Vessel", name="Sea Queen")]))
    with pytest.raises(DatasetError, match="Vessel in b but a Person in a"):
        Screener([one, two])


def test_entity_hash_tracks_list_updates(tmp_path: Path) -> None:
    before = Screener([load_dataset(write(tmp_path / "l.json", [ent("p", name="Ivan Petrov")]))])
    after = Screener([load_dataset(write(tmp_path / "l.json", [
        ent("p", name="Ivan Petrov", birthDate="1970")]))])
    h1 = before.screen(Query("Ivan Petrov")).matches[0].entity_hash
    h2 = after.screen(Query("Ivan Petrov")).matches[0].entity_hash
    assert h1 != h2 and before.versions[0]["version"] != after.versions[0]["version"]


def test_same_scores_in_another_process_with_another_hash_seed(sample: Screener) -> None:
    import os
    import subprocess
    import sys
    code = (
        "import json, sys\n"
        "from arka.screening import Query, Screener, load_dataset\n"
        "s = Screener([load_dataset(sys.argv[1])])\n"
        "qs = [Query('Moammar Qadhafi', birth_date='1942'), Query('Ivan Petrov', "
        "threshold='0.3'), Query('Acme Trading Ltd', schema='Company')]\n"
        "print(json.dumps([s.screen(q).to_json() for q in qs], sort_keys=True))\n")
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "sample.ftm.json")],
                         capture_output=True, text=True, check=True, env=env).stdout
    here = [sample.screen(q).to_json() for q in (
        Query("Moammar Qadhafi", birth_date="1942"), Query("Ivan Petrov", threshold=Decimal("0.3")),
        Query("Acme Trading Ltd", schema="Company"))]
    assert json.loads(out) == json.loads(json.dumps(here, sort_keys=True))
