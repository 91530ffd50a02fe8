"""Property-based API fuzzing with schemathesis over our own OpenAPI document:
no 500s, and every response as documented (status code, content type, schema, headers)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from arka.app.core import Core
from arka.interfaces.http.app import create_app
from arka.security.ratelimit import RateLimitSettings
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLES, HOSTILE_DEADLINE


def _app() -> Any:
    tmp = Path(tempfile.mkdtemp(prefix="arka-fuzz-"))
    url = f"sqlite:///{tmp / 'pact.db'}"
    store = Store(url)
    store.migrate()
    lists = EXAMPLES / "screening" / "lists.ftm.json"
    core = Core(Settings(url, tmp / "keys", rate_limit=RateLimitSettings(enabled=False),
                         objects=str(tmp / "objects"),
                         plugin_settings={"sanctions": {"datasets": [str(lists)]}}), store)
    key = core.apikeys.create("default", "fuzz", ["admin"], None)["key"]
    app = create_app(core)
    TestClient(app).post("/api/v1/rules", content=(EXAMPLES / "rules" / "ctr-threshold-flag.yaml")
                         .read_bytes(), headers={"content-type": "application/x-yaml",
                                                 "X-API-Key": key})
    return app, key


# Where a check cannot apply to one operation, and why. All others apply everywhere.
# A rule, table, schema or ruleset document is YAML (or JSON) text whose validity - a rule that
# compiles, a table whose rows fit its kind - no JSON schema can express: a schema-valid
# body is not therefore an acceptable document.
DOCUMENT = [positive_data_acceptance]
# A screening query's birth date must be a real calendar date (no 2024-02-30), which a
# pattern cannot say.
SCREEN = [positive_data_acceptance]
EXCLUDED: dict[str, list[Any]] = {
    "POST /api/v1/screen": SCREEN,
    "POST /api/v1/rules": DOCUMENT, "POST /api/v1/rules/validate": DOCUMENT,
    "POST /api/v1/tables": DOCUMENT, "POST /api/v1/rulesets": DOCUMENT,
    "POST /api/v1/schemas": DOCUMENT,
    # Which inputs an evaluation accepts is what the deployed rules declare (here: a
    # `transaction`), and `context.ruleset` must name a deployed ruleset: state, not schema.
    "POST /api/v1/evaluate": [positive_data_acceptance],
    # Every number anywhere in a body is bounded (40 significant digits, magnitude 1e-60 to
    # 1e60; a 400 E_NUMBER naming its path), which a schema of open JSON values cannot say.
    "POST /api/v1/evaluate/batch": [positive_data_acceptance],
    # 0 < first <= second <= the log's current size: one bound relates two parameters, the
    # other depends on how many evaluations the log holds at the time.
    "GET /api/v1/log/consistency": [positive_data_acceptance],
    # from <= to, and the window at most 7 days long (hourly buckets) or 366 (daily): bounds
    # that relate two parameters.
    "GET /api/v1/stats/evaluations": [positive_data_acceptance],
    # expires_at must lie in the future, relative to the clock at the request.
    "POST /api/v1/apikeys": [positive_data_acceptance],
    # A webhook URL must resolve, and only to public addresses (SSRF): DNS and network
    # state, not schema; a given secret must be base64 of at least 24 bytes.
    "POST /api/v1/webhooks": [positive_data_acceptance],
    "POST /api/v1/webhooks/{webhook_id}/rotate": [positive_data_acceptance],
    # A tile path is <L>/<N>[.p/<W>] with N in 3-digit groups (x001/x234/067), and names a
    # tile only once the log has grown that far: a grammar and state, not schema.
    "GET /api/v1/log/tile/{path}": [positive_data_acceptance],
    "GET /api/v1/log/tile/entries/{path}": [positive_data_acceptance],
}

APP, KEY = _app()
SCHEMA = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
OPERATIONS = [op.ok() for op in SCHEMA.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
def test_operation_never_fails_and_matches_its_schema(operation: Any) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=HOSTILE_DEADLINE, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        if case.headers:  # generated credentials are junk; the valid key is ours
            case.headers.pop("Authorization", None)
            case.headers.pop("X-API-Key", None)
        response = case.call(headers={"X-API-Key": KEY})
        assert response.status_code < 500, (case.method, case.path, response.text)
        case.validate_response(response, excluded_checks=EXCLUDED.get(
            f"{operation.method.upper()} {operation.path}", []))

    run()
