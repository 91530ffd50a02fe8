"""`arka-cli backup` and `arka-cli restore`: the store with a checksummed manifest, to and
from a directory or S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from arka.interfaces.cli.common import StoreOptions, fail, record_operator_event, store_options


@click.command("backup")
@click.option("--to", "directory", required=True,
              help="A new, empty directory, or s3://bucket/prefix (ARKA_S3_ENDPOINT_URL for an "
                   "S3-compatible store; credentials the usual AWS way).")
@click.option("--allow-problems", is_flag=True,
              help="Back up even when the integrity check finds problems (e.g. to keep the "
                   "evidence); the manifest lists them.")
@click.option("--skip-check", is_flag=True,
              help="Do not run the integrity check first (the manifest says so).")
@store_options()
def backup_cmd(directory: str, allow_problems: bool, skip_check: bool,
               store: StoreOptions) -> None:
    """Back up the store (SQLite online backup or pg_dump) with a checksummed manifest.

    The integrity check (`arka-cli db check`) runs first: a database whose evaluations,
    log and tree heads disagree is refused (exit 1, naming the problems) unless
    --allow-problems. A database not yet migrated is backed up unchecked.
    """
    import tempfile

    from arka.storage import Store, StoreError
    from arka.storage.objects import is_s3
    from arka.storage.sql.backup import backup, upload
    settings = store.settings()
    try:
        source = Store(settings.database_url)
        integrity = _integrity(settings, source, skip_check)
        if integrity.get("ok") is False and not allow_problems:
            fail(f"refusing to back up a database with {integrity['problem_count']} integrity "
                 f"problem(s): {_named(integrity)}; run `arka-cli db check` for all of them, "
                 "or pass --allow-problems to back it up as it is", 1)
        if is_s3(directory):
            with tempfile.TemporaryDirectory(prefix="arka-backup-") as tmp:
                manifest = backup(source, Path(tmp) / "backup", integrity)
                upload(Path(tmp) / "backup", directory)
        else:
            manifest = backup(source, Path(directory), integrity)
    except StoreError as exc:
        fail(exc.message)
    record_operator_event(settings, "backup.create", directory,
                          {"counts": manifest["counts"], "log": manifest["log"],
                           "integrity_ok": integrity.get("ok")})
    click.echo(json.dumps(manifest, indent=2))


def _integrity(settings: Any, store: Any, skip: bool) -> dict[str, Any]:
    """The integrity check's outcome as the manifest keeps it (first problems listed)."""
    if skip:
        return {"checked": False, "reason": "--skip-check"}
    status = store.status()
    if not status["up_to_date"]:
        return {"checked": False, "reason": f"schema at revision {status['current_revision']}, "
                                            f"not {status['head_revision']}"}
    from arka.app.integrity import Integrity
    from arka.security.sealing import RecordSealer
    from arka.settings import record_cipher
    from arka.storage import Store
    from arka.trust.proofs import KeyRing
    keys = KeyRing.open(settings.key_dir, settings.signing_key_pem)
    sealed = Store(store.url, RecordSealer(record_cipher(settings)))  # opens sealed records
    try:
        report = Integrity(sealed.evaluations, sealed.log, keys.public_keys).check(limit=20)
    finally:
        sealed.engine.dispose()
    out = report.to_json()
    return {"checked": True, "ok": report.ok, "problem_count": report.problem_count,
            "problems": out["problems"], "counts": out["counts"]}


def _named(integrity: dict[str, Any]) -> str:
    named = [f"{p['where']}: {p['message']}" for p in integrity.get("problems", [])[:3]]
    more = integrity["problem_count"] - len(named)
    return "; ".join(named) + (f" (and {more} more)" if more > 0 else "")


@click.command("restore")
@click.option("--from", "directory", required=True,
              help="A backup directory or s3://bucket/prefix.")
@click.option("--confirm", is_flag=True, help="Required: restore into the target database.")
@store_options(database_url_help="Target database (must be new and empty).")
def restore_cmd(directory: str, confirm: bool, store: StoreOptions) -> None:
    """Restore a backup into a new, empty database, checking it against its manifest;
    then run the integrity check on it (a warning naming the problems: the signing and
    encryption keys are not in a backup, so a deployment without them cannot open or
    verify the records)."""
    import tempfile

    from arka.storage import Store, StoreError
    from arka.storage.objects import is_s3
    from arka.storage.sql.backup import download, read_manifest, restore
    try:
        with tempfile.TemporaryDirectory(prefix="arka-restore-") as tmp:
            local = Path(directory)
            if is_s3(directory):
                local = Path(tmp) / "backup"
                download(directory, local)
            if not confirm:
                manifest = read_manifest(local)
                fail(f"refusing to restore {manifest['counts']['evaluations']} evaluations "
                     "without --confirm", 2)
            settings = store.settings()
            manifest = restore(local, Store(settings.database_url))
            restored = Store(settings.database_url)
            try:
                integrity = _integrity(settings, restored, False)
            finally:
                restored.engine.dispose()
    except StoreError as exc:
        fail(exc.message)
    record_operator_event(settings, "backup.restore", directory,
                          {"counts": manifest["counts"], "log": manifest["log"],
                           "integrity_ok": integrity.get("ok")})
    if integrity.get("ok") is False:  # e.g. this deployment lacks the keys of the backup
        click.echo(f"warning: the integrity check of the restored database finds "
                   f"{integrity['problem_count']} problem(s): {_named(integrity)}; configure "
                   "the deployment's signing and encryption keys, then run `arka-cli db "
                   "check`", err=True)
    click.echo(f"restored and verified: {json.dumps(manifest['counts'])}, log tree size "
               f"{manifest['log']['tree_size']}")
