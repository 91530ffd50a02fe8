"""Sanctions and PEP screening: FollowTheMoney entity lists in, explained matches out.

    from arka.screening import Query, Screener, load_dataset

    screener = Screener([load_dataset("us_ofac_sdn.ftm.json.gz")])
    result = screener.screen(Query("Muammar Qaddafi", birth_date="1942"))
    result.hit, result.score, [m.to_json() for m in result.matches]

Pure library: it imports only `arka.base`. Stages: `ftm` (load and validate entity
files) → `normalize` (names to tokens) → `index` (candidate blocking) → `match` (features,
evidence, explanation) → `screener` (the query API).
"""

from arka.screening.ftm import (
    SCHEMATA,
    Dataset,
    DatasetError,
    Entity,
    compatible,
    load_dataset,
)
from arka.screening.match import Contribution
from arka.screening.normalize import NameForm, ascii_text, name_form
from arka.screening.screener import (
    TOPICS,
    Match,
    Query,
    Screener,
    ScreeningError,
    ScreenResult,
)

__all__ = [
    "SCHEMATA", "TOPICS", "Contribution", "Dataset", "DatasetError", "Entity", "Match",
    "NameForm", "Query", "ScreenResult", "Screener", "ScreeningError", "ascii_text",
    "compatible", "load_dataset", "name_form",
]
