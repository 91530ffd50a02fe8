"""Backup → wipe → restore loses nothing: counts, the log root and every proof compared,
on SQLite (online backup) and PostgreSQL (pg_dump/pg_restore)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store, StoreError
from arka.storage.sql.backup import backup, fingerprint, restore
from tests.helpers import EXAMPLES, evaluate_body
from tests.service_fixtures import database_url, postgres_database

CLI = str(Path(sys.executable).parent / "arka-cli")
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _filled(url: str, keys: Path) -> Core:
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, keys), store)
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(), "yaml")
    for amount in (100, 12500, 20000):
        evaluate_body(core, "default", {"context": CTX, "input": {"transaction": dict(CASH["transaction"],
                                                                     amount=amount)}})
    core.transparency.sth()
    return core


def _target(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'pact.db'}"
    else:
        yield from postgres_database()


def test_backup_wipe_restore_round_trip(kind: str, tmp_path: Path) -> None:
    source_gen = database_url(kind, tmp_path)
    url = next(source_gen)
    target_gen = _target(kind, tmp_path)
    target_url = next(target_gen)
    try:
        core = _filled(url, tmp_path / "keys")
        before = fingerprint(core.store)
        manifest = backup(core.store, tmp_path / "backup")
        assert manifest["counts"] == before["counts"] and manifest["log"] == before["log"]
        assert manifest["files"][0]["sha256"].startswith("sha256:")
        with pytest.raises(StoreError, match="not empty"):
            backup(core.store, tmp_path / "backup")
        target = Store(target_url)
        restore(tmp_path / "backup", target)
        assert fingerprint(target) == before
        restored = Core(Settings(target_url, tmp_path / "keys"), target)
        ids = [r["evaluation_id"] for r in core.store.evaluations.list("default", decision=None, rule_id=None, start=None, end=None, page=1, per_page=100)[0]]
        for eid in ids:
            assert restored.store.evaluations.get("default", eid) == core.store.evaluations.get("default", eid)
            assert restored.evaluations.replay("default", eid)["match"] and restored.evaluations.verify("default", eid)["valid"]
        with pytest.raises(StoreError):
            restore(tmp_path / "backup", target)  # never over existing data
    finally:
        source_gen.close()
        target_gen.close()


def test_a_damaged_backup_is_refused(tmp_path: Path) -> None:
    core = _filled(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path / "keys")
    backup(core.store, tmp_path / "b")
    db = tmp_path / "b" / "pact.db"
    data = bytearray(db.read_bytes())
    data[-10] ^= 0xFF
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="checksum"):
        restore(tmp_path / "b", Store(f"sqlite:///{tmp_path / 'new.db'}"))
    (tmp_path / "b" / "manifest.json").write_text("{}")
    with pytest.raises(StoreError, match="not an ARKA backup"):
        restore(tmp_path / "b", Store(f"sqlite:///{tmp_path / 'new.db'}"))


def test_backup_and_restore_commands(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("ARKA_DATABASE_URL", None)
    (tmp_path / "d").mkdir()
    _filled(f"sqlite:///{(tmp_path / 'd' / 'pact.db').resolve()}", tmp_path / "d" / "keys")
    out = subprocess.run([CLI, "backup", "--to", str(tmp_path / "bk"), "--data-dir",
                          str(tmp_path / "d")], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["counts"]["evaluations"] == 3
    refused = subprocess.run([CLI, "restore", "--from", str(tmp_path / "bk"), "--data-dir",
                              str(tmp_path / "r")], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--confirm" in refused.stderr
    done = subprocess.run([CLI, "restore", "--from", str(tmp_path / "bk"), "--confirm",
                           "--data-dir", str(tmp_path / "r")], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0 and "restored and verified" in done.stdout, done.stderr
    for data, action in ((tmp_path / "d", "backup.create"), (tmp_path / "r", "backup.restore")):
        store = Store(f"sqlite:///{(data / 'pact.db').resolve()}")
        events = store.audit.events("_system", page=1, per_page=10, action=action)[0]
        assert events and events[0]["details"]["counts"]["evaluations"] == 3
        assert events[0]["actor"].startswith("cli:")
    again = subprocess.run([CLI, "restore", "--from", str(tmp_path / "bk"), "--confirm",
                            "--data-dir", str(tmp_path / "r")], env=env, capture_output=True,
                           text=True)
    assert again.returncode == 1 and "exists" in again.stderr


def test_backup_to_and_restore_from_s3(tmp_path: Path) -> None:
    """Against an S3-compatible server started here on 127.0.0.1 (moto's server mode)."""
    import socket
    import time

    import boto3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H",
                               "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    env = dict(os.environ, ARKA_S3_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    env.pop("ARKA_DATABASE_URL", None)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
        for _ in range(100):
            try:
                s3.create_bucket(Bucket="arka-backups")
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.1)
        (tmp_path / "d").mkdir()
        _filled(f"sqlite:///{(tmp_path / 'd' / 'pact.db').resolve()}", tmp_path / "d" / "keys")
        out = subprocess.run([CLI, "backup", "--to", "s3://arka-backups/nightly/1",
                              "--data-dir", str(tmp_path / "d")], env=env, capture_output=True,
                             text=True)
        assert out.returncode == 0, out.stderr
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="arka-backups")["Contents"])
        assert keys == ["nightly/1/manifest.json", "nightly/1/pact.db"]
        again = subprocess.run([CLI, "backup", "--to", "s3://arka-backups/nightly/1",
                                "--data-dir", str(tmp_path / "d")], env=env,
                               capture_output=True, text=True)
        assert again.returncode == 1 and "not empty" in again.stderr
        done = subprocess.run([CLI, "restore", "--from", "s3://arka-backups/nightly/1",
                               "--confirm", "--data-dir", str(tmp_path / "r")], env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0 and '"evaluations": 3' in done.stdout, done.stderr
        s3.put_object(Bucket="arka-backups", Key="nightly/1/pact.db", Body=b"tampered")
        bad = subprocess.run([CLI, "restore", "--from", "s3://arka-backups/nightly/1",
                              "--confirm", "--data-dir", str(tmp_path / "r2")], env=env,
                             capture_output=True, text=True)
        assert bad.returncode == 1 and "checksum" in bad.stderr
        missing = subprocess.run([CLI, "restore", "--from", "s3://arka-backups/none",
                                  "--confirm", "--data-dir", str(tmp_path / "r3")], env=env,
                                 capture_output=True, text=True)
        assert missing.returncode == 1 and "cannot read the backup" in missing.stderr
    finally:
        server.terminate()
        server.wait(10)
