"""`arka-cli screen`: screen one name against FollowTheMoney entity lists, here and now
(no service): `--dataset FILE` (repeatable; JSON lines, optionally .gz), the query, and
the matches with their scores and why each matched."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import click

from arka.base import values as V
from arka.interfaces.cli.common import fail

_NUMBERS = ("score", "threshold", "contribution")


def _numbers(data: Any) -> Any:
    """Decimal text of scores as JSON numbers (exact: decimal_json)."""
    if isinstance(data, dict):
        return {k: (V.decimal_json(Decimal(v)) if k in _NUMBERS and isinstance(v, str)
                    else _numbers(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [_numbers(x) for x in data]
    return data


@click.command("screen")
@click.option("--dataset", "datasets", multiple=True, required=True, metavar="FILE",
              help="An entity list in FollowTheMoney JSON lines (entities.ftm.json, .gz "
                   "too); repeatable.")
@click.option("--name", required=True, help="The name to look for, in any script.")
@click.option("--schema", default="Person", show_default=True,
              help="What the name is: Person, Organization, Company, LegalEntity, Vessel, ...")
@click.option("--birth-date", help="YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option("--country", "countries", multiple=True, metavar="CODE",
              help="ISO 3166 country code (nationality, residence, ...); repeatable.")
@click.option("--topic", "topics", multiple=True, metavar="TOPIC",
              help="Topics an entity must carry; repeatable (default: sanction; PEPs: "
                   "role.pep).")
@click.option("--threshold", default="0.8", show_default=True,
              help="Lowest score reported as a match, 0-1.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fail-on-match", is_flag=True, help="Exit 1 when there is a match.")
def screen_cmd(datasets: tuple[str, ...], name: str, schema: str, birth_date: str | None,
               countries: tuple[str, ...], topics: tuple[str, ...], threshold: str, limit: int,
               output: str, fail_on_match: bool) -> None:
    """Screen a name against sanctions/PEP lists. Exit 0 (with --fail-on-match: 1 when
    there is a match), 2 for bad arguments or an unreadable list."""
    from arka.base.errors import ArkaError
    from arka.screening.ftm import load_dataset
    from arka.screening.screener import Query, Screener
    try:
        value = Decimal(threshold)
    except ArithmeticError:
        fail(f"--threshold {threshold!r} is not a number between 0 and 1", 2)
    try:
        query = Query(name=name, schema=schema, birth_date=birth_date, countries=countries,
                      topics=topics or ("sanction",), threshold=value, limit=limit)
        screener = Screener([load_dataset(p) for p in datasets])
        result = screener.screen(query)
    except FileNotFoundError as exc:
        fail(f"cannot read dataset {exc.filename!r}: no such file", 2)
    except OSError as exc:
        fail(f"cannot read dataset {getattr(exc, 'filename', '')!r}: {exc.strerror}", 2)
    except ArkaError as exc:
        fail(exc.message, 2)
    data = _numbers(result.to_json())
    data["datasets"] = screener.versions
    if output == "json":
        click.echo(V.dumps(data))
    else:
        click.echo(f"{len(result.matches)} match(es) for {name!r} ({schema}) at threshold "
                   f"{query.threshold} in {len(screener)} entities")
        for m in result.matches:
            click.echo(f"{m.score}  {m.entity_id}  {m.caption}  [{', '.join(m.topics)}]  "
                       f"({', '.join(m.datasets)})")
            for c in m.explanation:
                cj = c.to_json()
                click.echo(f"        {cj['feature']}: {cj['query']} ~ {cj['candidate']} "
                           f"({cj['contribution']})")
    sys.exit(1 if fail_on_match and result.hit else 0)
