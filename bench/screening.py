"""Sanctions/PEP screening benchmark: `python bench/screening.py [--entities N] [--quality]`.

Generates a synthetic FollowTheMoney list (`--entities`, default 100,000) into a temp
directory: persons with Russian, Arabic, Chinese, Spanish and Western name shapes
(patronymics, `bin`/`al-` particles, two surnames), aliases in other transliterations,
birth dates (full or year only), countries and topics; companies with legal forms; a few
vessels. Then, pinned to one CPU core:

1. `load_dataset` time, `Screener` (index) build time and the RSS growth of both;
2. screenings/s and p50/p99 latency over `--queries` queries (half variants of listed
   names — typos, other transliterations, word order, with or without a birth date —,
   half names that are not listed).

`--quality` also prints recall and precision on the evaluation set (tests/fixtures/
screening/eval) and on the held-out set (tests/fixtures/screening/heldout). `--json` prints the numbers as JSON. 1,000,000 entities:
`--entities 1000000` (several minutes and a few GB of RAM).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from arka.screening import Query, Screener, load_dataset  # noqa: E402

RU_FIRST = ["Aleksandr", "Sergei", "Vladimir", "Dmitry", "Andrei", "Alexei", "Mikhail",
            "Igor", "Oleg", "Yuri", "Nikolai", "Viktor", "Pavel", "Roman", "Yevgeny",
            "Boris", "Anatoly", "Gennady", "Arkady", "Konstantin", "Olga", "Irina", "Elena",
            "Natalia", "Svetlana", "Tatiana", "Yelena", "Marina"]
RU_ROOTS = ["Petr", "Ivan", "Sokol", "Moroz", "Volk", "Lebed", "Kozl", "Novik", "Pavl",
            "Semen", "Golub", "Vinogr", "Bogd", "Zakhar", "Orl", "Medved", "Zaits",
            "Fedor", "Gusev", "Tarasen", "Belous", "Karpen", "Shevch", "Kovalen", "Bondar",
            "Tkach", "Kravch", "Oliyn", "Shvets", "Polishch", "Lysen", "Rudenk", "Savch",
            "Kuzm", "Makar", "Nikit", "Stepan", "Timof", "Yakovl", "Grigor", "Dmitri"]
RU_SUFFIX = ["ov", "ev", "in", "enko", "sky", "ovich", "uk", "chuk", "ykin", "ishin"]
AR_FIRST = ["Mohammed", "Ahmed", "Ali", "Omar", "Hassan", "Hussein", "Abdullah",
            "Abdul Rahman", "Ibrahim", "Khalid", "Youssef", "Mustafa", "Tariq", "Hamza",
            "Bilal", "Said", "Nasser", "Faisal", "Karim", "Jamal", "Fatima", "Aisha",
            "Mariam", "Zainab", "Layla"]
AR_LAST = ["Haddad", "Mansour", "Khoury", "Nasser", "Rahman", "Qureshi", "Siddiqui",
           "Farouk", "Hashemi", "Tikriti", "Masri", "Shami", "Halabi", "Baghdadi",
           "Zawahiri", "Qahtani", "Otaibi", "Ghamdi", "Harbi", "Shehri", "Dosari",
           "Mutairi", "Anazi", "Rashidi", "Hamdan", "Saleh", "Jaber", "Awad", "Kassem",
           "Obeid", "Yassin", "Darwish", "Suleiman", "Barakat", "Hijazi", "Najjar"]
ZH_SYL = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou",
          "xu", "sun", "ma", "zhu", "hu", "guo", "he", "lin", "gao", "luo", "zheng",
          "liang", "xie", "song", "tang", "han", "feng", "deng", "cao", "peng", "zeng",
          "xiao", "tian", "dong", "pan", "yuan", "cai", "jiang", "yu", "du", "ye", "cheng",
          "wei", "su", "lu", "ding", "ren", "shen", "yao", "jin", "ming", "hua", "jun",
          "hong", "ping", "qiang", "lei", "bo", "hao", "xin"]
ES_FIRST = ["José", "Juan", "Carlos", "Luis", "Miguel", "Jorge", "Pedro", "Fernando",
            "Diego", "Alejandro", "Ricardo", "Manuel", "María", "Ana", "Lucía", "Carmen",
            "Isabel", "Rosa"]
ES_LAST = ["García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez",
           "Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Cruz",
           "Morales", "Ortiz", "Gutiérrez", "Chávez", "Ramos", "Ruiz", "Mendoza",
           "Castillo", "Jiménez", "Vargas", "Romero", "Herrera", "Medina", "Aguilar"]
WE_FIRST = ["John", "James", "Robert", "Michael", "William", "David", "Richard", "Thomas",
            "Peter", "Paul", "Mark", "Hans", "Klaus", "Pierre", "Jean", "Giovanni", "Marco",
            "Anna", "Mary", "Susan", "Linda", "Claire", "Sophie", "Maria"]
SYL = ["ka", "lo", "mer", "tin", "son", "ber", "gen", "ster", "wald", "mann", "ford",
       "ley", "ton", "ham", "wick", "field", "ros", "vel", "dan", "mor", "hal", "bre",
       "nor", "kin", "lis", "tar", "quin", "dell", "fer", "gus"]
CO_WORDS = ["Global", "Trans", "Petro", "Energy", "Oil", "Gas", "Shipping", "Marine",
            "Capital", "Invest", "Finance", "Trade", "Logistics", "Industrial", "Steel",
            "Mining", "Agro", "Tech", "Systems", "Aero", "Star", "Eastern", "Northern",
            "Pacific", "Atlas", "Orion", "Delta", "Nova", "Alpha", "Unity", "Crown"]
LEGAL = ["LLC", "Ltd", "Limited", "JSC", "PJSC", "OOO", "GmbH", "S.A.", "FZE", "Inc.",
         "Co., Ltd.", "Holding", "Trading LLC", "AG", "B.V."]
COUNTRIES = ["ru", "by", "ir", "sy", "kp", "cu", "ve", "mm", "sd", "ly", "iq", "af", "cn",
             "ae", "tr", "ua", "kz", "lb", "ye", "so", "mx", "co", "pa", "cy", "gb", "us",
             "de", "fr", "ch", "hk", "sg", "in", "pk", "ng"]
TOPICS = [["sanction"], ["sanction"], ["sanction"], ["sanction", "role.pep"], ["role.pep"],
          ["role.pep"], ["role.pep"], ["sanction.linked"], ["crime"], ["role.rca"]]


def surname_ru(rng: random.Random) -> str:
    return rng.choice(RU_ROOTS) + rng.choice(RU_SUFFIX) + rng.choice(["", "", "", "a"])


def invented(rng: random.Random) -> str:
    return "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).capitalize()


def person_names(rng: random.Random) -> tuple[str, list[str]]:
    kind = rng.random()
    if kind < 0.3:
        first, last = rng.choice(RU_FIRST), surname_ru(rng)
        father = rng.choice(RU_FIRST)
        patronymic = father + ("ovich" if not father.endswith(("a", "y", "i")) else "evich")
        name = f"{first} {patronymic} {last}"
        aliases = [f"{first} {last}", f"{last.upper()} {first}"]
        if "ks" in first or "ei" in first or "y" in last:
            aliases.append(f"{first.replace('ks', 'x').replace('ei', 'ey')} "
                           f"{last.replace('y', 'i').replace('ov', 'ow')}")
    elif kind < 0.55:
        first, last = rng.choice(AR_FIRST), rng.choice(AR_LAST)
        middle = rng.choice(AR_FIRST)
        name = f"{first} bin {middle} al-{last}"
        aliases = [f"{first} {last}",
                   f"{first.replace('Mohammed', 'Muhammad').replace('Hassan', 'Hasan')} "
                   f"al {last}"]
    elif kind < 0.7:
        name = (rng.choice(ZH_SYL).capitalize() + " " + rng.choice(ZH_SYL).capitalize()
                + rng.choice(ZH_SYL))
        aliases = []
    elif kind < 0.85:
        first = rng.choice(ES_FIRST)
        name = f"{first} {rng.choice(ES_LAST)} {rng.choice(ES_LAST)}"
        aliases = [name.split(" ", 2)[0] + " " + name.split(" ", 2)[1]]
    else:
        first = rng.choice(WE_FIRST)
        name = f"{first} {invented(rng)}"
        aliases = []
    return name, aliases[: rng.randint(0, len(aliases))]


def entity(rng: random.Random, i: int) -> dict[str, Any]:
    roll = rng.random()
    props: dict[str, list[str]] = {}
    if roll < 0.72:
        schema = "Person"
        name, aliases = person_names(rng)
        if rng.random() < 0.65:
            year = rng.randint(1935, 2002)
            props["birthDate"] = ([str(year)] if rng.random() < 0.3 else
                                  [f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"])
        props["nationality"] = [rng.choice(COUNTRIES)]
    elif roll < 0.96:
        schema = rng.choice(["Company", "Company", "Organization", "LegalEntity"])
        words = " ".join(rng.choice(CO_WORDS) for _ in range(rng.randint(1, 2)))
        core = f"{invented(rng)} {words}"
        name = f"{core} {rng.choice(LEGAL)}"
        aliases = [core] if rng.random() < 0.5 else []
        props["jurisdiction"] = [rng.choice(COUNTRIES)]
    else:
        schema = "Vessel"
        name = f"{rng.choice(CO_WORDS)} {invented(rng)}".upper()
        aliases = []
        props["flag"] = [rng.choice(COUNTRIES)]
    props["name"] = [name]
    if aliases:
        props["alias"] = aliases
    props["topics"] = rng.choice(TOPICS)
    return {"id": f"syn-{i:07d}", "schema": schema, "caption": name, "properties": props,
            "datasets": ["synthetic"], "first_seen": "2024-01-01T00:00:00",
            "last_seen": "2024-06-01T00:00:00"}


def variant(rng: random.Random, name: str) -> str:
    words = name.replace("al-", "al ").split()
    kind = rng.random()
    if kind < 0.3:
        i = max(range(len(words)), key=lambda k: len(words[k]))
        w = words[i]
        if len(w) > 4:
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    elif kind < 0.5:
        words = words[::-1]
    elif kind < 0.7 and len(words) > 2:
        words = [words[0], words[-1]]
    return " ".join(words)


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entities", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--quality", action="store_true", help="also report recall/precision")
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rng = random.Random(args.seed)
    out: dict[str, Any] = {"entities": args.entities}
    with tempfile.TemporaryDirectory(prefix="arka-screening-") as tmp:
        path = Path(tmp) / "synthetic.ftm.json"
        t0 = time.perf_counter()
        samples: list[dict[str, Any]] = []
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(args.entities):
                e = entity(rng, i)
                if len(samples) < args.queries // 2 and rng.random() < 0.05 and \
                        "sanction" in e["properties"]["topics"]:
                    samples.append(e)
                fh.write(json.dumps(e, ensure_ascii=False) + "\n")
        out["generate_s"] = round(time.perf_counter() - t0, 2)
        out["file_mb"] = round(path.stat().st_size / 2**20, 1)
        gc.collect()
        base = rss_mb()
        t0 = time.perf_counter()
        dataset = load_dataset(path)
        out["load_s"] = round(time.perf_counter() - t0, 2)
        after_load = rss_mb()
        t0 = time.perf_counter()
        screener = Screener([dataset])
        out["index_s"] = round(time.perf_counter() - t0, 2)
        gc.collect()
        out["rss_load_mb"] = round(after_load - base, 1)
        out["rss_total_mb"] = round(rss_mb() - base, 1)
        out["names_indexed"] = len(screener.index)
        out["vocabulary"] = len(screener.index.tokens)
    queries: list[Query] = []
    for e in samples:
        props = e["properties"]
        name = variant(rng, rng.choice(props["name"] + props.get("alias", [])))
        dob = props.get("birthDate", [None])[0] if rng.random() < 0.5 else None
        queries.append(Query(name, schema=e["schema"], birth_date=dob))
    while len(queries) < args.queries:
        name, _ = person_names(rng)
        queries.append(Query(variant(rng, name), birth_date=rng.choice([None, "1970"])))
    rng.shuffle(queries)
    for q in queries[:200]:  # warm-up
        screener.screen(q)
    latencies: list[int] = []
    hits = 0
    clock = time.perf_counter_ns
    for q in queries:
        t = clock()
        result = screener.screen(q)
        latencies.append(clock() - t)
        hits += result.hit
    latencies.sort()
    n = len(latencies)
    out.update(queries=n, hit_rate=round(hits / n, 3),
               screenings_per_s=round(1e9 / statistics.fmean(latencies)),
               p50_ms=round(latencies[n // 2] / 1e6, 3),
               p99_ms=round(latencies[min(n - 1, int(n * 0.99))] / 1e6, 3),
               max_ms=round(latencies[-1] / 1e6, 3))
    if args.quality:
        from tests.test_screening_heldout import evaluate_heldout
        from tests.test_screening_quality import evaluate
        keys = ("queries", "entities", "recall", "precision")
        stats = evaluate()
        out["quality"] = {k: stats[k] for k in keys}
        stats = evaluate_heldout()
        out["quality_heldout"] = {k: stats[k] for k in keys}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"screening benchmark: {args.entities:,} synthetic entities, one core")
    print(f"  generate {out['generate_s']} s ({out['file_mb']} MB), load {out['load_s']} s, "
          f"index build {out['index_s']} s")
    print(f"  memory (RSS growth): {out['rss_load_mb']} MB after load, "
          f"{out['rss_total_mb']} MB with index ({out['names_indexed']:,} names, "
          f"{out['vocabulary']:,} distinct tokens)")
    print(f"  {n:,} queries ({out['hit_rate']:.0%} hits): {out['screenings_per_s']:,} "
          f"screenings/s, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, "
          f"max {out['max_ms']} ms")
    if args.quality:
        for label, key in (("quality", "quality"), ("held-out", "quality_heldout")):
            q = out[key]
            print(f"  {label}: recall {q['recall']:.4f}, precision {q['precision']:.4f} "
                  f"({q['queries']} queries, {q['entities']} entities)")


if __name__ == "__main__":
    main()
