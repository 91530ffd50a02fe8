"""Backends for service tests: SQLite in a temp dir, and the real PostgreSQL on 127.0.0.1.

Without a reachable PostgreSQL the postgres variants skip, unless ARKA_REQUIRE_SERVICES=1
(set by .ci/run), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN = os.environ.get("ARKA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _require_or_skip(reason: str) -> None:
    if os.environ.get("ARKA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def postgres_database() -> Iterator[str]:
    import psycopg
    name = "arka_test_" + uuid.uuid4().hex[:12]
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _require_or_skip(f"PostgreSQL at {PG_ADMIN}: {exc}")
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'pact.db'}"
    else:
        yield from postgres_database()


def api_client(core: Any, roles: tuple[str, ...] = ("admin",), tenant: str = "default",
               limit: bool = False, **app_args: Any) -> Any:
    """A TestClient for `core`'s app that sends an API key with `roles` in `tenant`.
    Rate limiting is off unless `limit` (tests of other things send bursts)."""
    import dataclasses

    from fastapi.testclient import TestClient

    from arka.interfaces.http.app import create_app
    from arka.security.ratelimit import RateLimitSettings
    if not limit:
        core.settings = dataclasses.replace(core.settings,
                                            rate_limit=RateLimitSettings(enabled=False))
    key = core.apikeys.create(tenant, "test", list(roles), None)["key"]
    return TestClient(create_app(core, **app_args), headers={"X-API-Key": key})


def s3_server(bucket: str) -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1 with one bucket; yields its endpoint."""
    import socket
    import subprocess
    import sys
    import time

    import boto3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                               "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                              aws_secret_access_key="test", region_name="us-east-1")
        for _ in range(100):
            try:
                client.create_bucket(Bucket=bucket)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(10)
