"""Backup and restore of the store, with a manifest that proves what was saved.

SQLite: the online backup API (consistent while the service runs). PostgreSQL: pg_dump in
custom format, restored with pg_restore into an empty database. Every backup directory
holds `manifest.json`: schema revision, row counts, the transparency log's tree size and
root hash, the outcome of the integrity check run before it (`arka-cli db check`), and
the SHA-256 of every file. Restore checks the files against the manifest
before touching anything and the restored database against it afterwards. Signing keys
are not in a backup (they are secrets, kept with the deployment's secrets); proofs stay
verifiable with the published public keys.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.engine import make_url

from arka.base.errors import StoreError
from arka.storage.objects import ObjectStoreError, s3_client, split_s3
from arka.storage.sql import Store
from arka.storage.sql import schema as S
from arka.storage.sql.log import SqlLog
from arka.trust import merkle

MANIFEST = "manifest.json"
COUNTED = ("rules", "rulesets", "reference_tables", "schemas", "evaluations", "log_leaves",
           "log_nodes", "log_heads", "anchors", "api_keys", "audit_events",
           "screening_allowlist", "outbox", "webhooks", "deliveries", "cases",
           "case_evaluations", "case_events", "log_checkpoints", "log_cosignatures",
           "log_witnesses")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def fingerprint(store: Store, conn: Connection | None = None) -> dict[str, Any]:
    """Row counts and the log's root: what a restore must reproduce. With `conn`, read in
    that connection's transaction (its snapshot)."""
    if conn is None:
        with store.engine.connect() as own:
            return fingerprint(store, own)
    tables = {t.name: t for t in S.metadata.sorted_tables}
    present = set(inspect(conn).get_table_names())  # a backup of an older schema has fewer
    counts = {name: int(conn.execute(select(func.count()).select_from(tables[name]))
                        .scalar_one()) for name in COUNTED if name in present}
    size = int(conn.execute(select(func.coalesce(func.max(S.log_leaves.c.idx) + 1, 0)))
               .scalar_one())
    root = merkle.range_hash(0, size, SqlLog._fetch_nodes(conn, set(merkle.decompose(0, size)))) \
        if size else hashlib.sha256(b"").digest()
    revision = MigrationContext.configure(conn).get_current_revision()
    return {"schema_revision": revision, "counts": counts,
            "log": {"tree_size": size, "root_hash": root.hex()}}


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    env = {"PGPASSWORD": u.password} if u.password else {}
    return args, env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    import os
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    except FileNotFoundError:
        raise StoreError(f"{cmd[0]} is not installed (PostgreSQL client tools)") from None
    if proc.returncode != 0:
        raise StoreError(f"{cmd[0]} failed: {proc.stderr.strip()[-2000:]}")


def backup(store: Store, directory: Path, integrity: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    """Write a backup of the store into an empty (or new) directory; returns the manifest.
    `integrity`: the outcome of the integrity check run before it, kept in the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise StoreError(f"{directory} is not empty; back up into a new directory")
    if store.dialect == "sqlite":
        target = directory / "pact.db"
        source_path = make_url(store.url).database or ""
        src = sqlite3.connect(source_path)
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        copy = Store(f"sqlite:///{target}")
        try:
            copied = fingerprint(copy)  # what the copy itself holds
        finally:
            copy.engine.dispose()  # closes it: no -wal/-shm files left beside the copy
    elif store.dialect == "postgresql":
        # describe and dump the very same snapshot, while the service keeps writing
        target = directory / "pact.dump"
        args, env = _pg_args(store.url)
        with store.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            copied = fingerprint(store, conn)
            _run(["pg_dump", "-Fc", f"--snapshot={snapshot}", "-f", str(target), *args,
                  make_url(store.url).database or "pact"], env)
    else:
        raise StoreError(f"backup of {store.dialect} is not supported")
    manifest = {
        "format": "arka-backup/1",
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dialect": store.dialect,
        **copied,
        **({"integrity": integrity} if integrity is not None else {}),
        "files": [{"name": target.name, "bytes": target.stat().st_size,
                   "sha256": _sha256(target)}],
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{directory / MANIFEST} is missing or not JSON: {exc}") from None
    if manifest.get("format") != "arka-backup/1":
        raise StoreError("not an ARKA backup (manifest format is not arka-backup/1)")
    for f in manifest["files"]:
        path = directory / f["name"]
        if not path.exists():
            raise StoreError(f"backup file {f['name']} is missing")
        if _sha256(path) != f["sha256"]:
            raise StoreError(f"backup file {f['name']} does not match its checksum; refusing "
                             "to restore a damaged backup")
    return manifest


def restore(directory: Path, target: Store) -> dict[str, Any]:
    """Restore a checked backup into an empty target database; verifies the result."""
    manifest = read_manifest(directory)
    if manifest["dialect"] != target.dialect:
        raise StoreError(f"a {manifest['dialect']} backup cannot be restored into "
                         f"{target.dialect}; use `arka-cli db copy` between databases")
    (f,) = manifest["files"]
    source = directory / f["name"]
    if target.dialect == "sqlite":
        path = Path(make_url(target.url).database or "")
        if path.exists() and path.stat().st_size > 0:
            raise StoreError(f"{path} exists; restore into a new database file")
        path.parent.mkdir(parents=True, exist_ok=True)
        target.engine.dispose()
        shutil.copyfile(source, path)
    else:
        if target.current_revision() is not None:
            raise StoreError("the target database is not empty; restore into a new database")
        target.engine.dispose()
        args, env = _pg_args(target.url)
        _run(["pg_restore", "--no-owner", "-d", make_url(target.url).database or "pact", *args,
              str(source)], env)
    check = Store(target.url)
    try:
        restored = fingerprint(check)
    finally:
        check.engine.dispose()
    expected = {k: manifest[k] for k in ("schema_revision", "counts", "log")}
    if restored != expected:
        raise StoreError(f"the restored database does not match the manifest: {restored} "
                         f"!= {expected}")
    return manifest


# ------------------------------------------------------------------ object storage (S3)

def _split(location: str) -> tuple[str, str]:
    try:
        return split_s3(location)
    except ObjectStoreError as exc:
        raise StoreError(exc.message) from None


def upload(directory: Path, location: str) -> None:
    """Copy a backup directory to s3://bucket/prefix; the manifest goes last, so a prefix
    with a manifest always holds a complete backup."""
    from botocore.exceptions import BotoCoreError, ClientError
    bucket, prefix = _split(location)
    client = s3_client()
    try:
        existing = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/", MaxKeys=1)
        if existing.get("KeyCount", 0):
            raise StoreError(f"{location} is not empty; back up under a new prefix")
        names = sorted(p.name for p in directory.iterdir() if p.name != MANIFEST) + [MANIFEST]
        for name in names:
            client.upload_file(str(directory / name), bucket, f"{prefix}/{name}")
    except (BotoCoreError, ClientError) as exc:
        raise StoreError(f"cannot write to {location}: {exc}") from None


def download(location: str, directory: Path) -> None:
    from botocore.exceptions import BotoCoreError, ClientError
    bucket, prefix = _split(location)
    client = s3_client()
    try:
        manifest = json.loads(client.get_object(Bucket=bucket, Key=f"{prefix}/{MANIFEST}")
                              ["Body"].read())
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MANIFEST).write_text(json.dumps(manifest))
        for f in manifest.get("files", []):
            client.download_file(bucket, f"{prefix}/{f['name']}", str(directory / f["name"]))
    except (BotoCoreError, ClientError, json.JSONDecodeError) as exc:
        raise StoreError(f"cannot read the backup at {location}: {exc}") from None
