"""`arka-cli backup` and `arka-cli restore`: the store with a checksummed manifest, to and
from a directory or S3."""

from __future__ import annotations

import json
from pathlib import Path

import click

from arka.interfaces.cli.common import StoreOptions, fail, record_operator_event, store_options


@click.command("backup")
@click.option("--to", "directory", required=True,
              help="A new, empty directory, or s3://bucket/prefix (ARKA_S3_ENDPOINT_URL for an "
                   "S3-compatible store; credentials the usual AWS way).")
@store_options()
def backup_cmd(directory: str, store: StoreOptions) -> None:
    """Back up the store (SQLite online backup or pg_dump) with a checksummed manifest."""
    import tempfile

    from arka.storage import Store, StoreError
    from arka.storage.objects import is_s3
    from arka.storage.sql.backup import backup, upload
    settings = store.settings()
    try:
        source = Store(settings.database_url)
        if is_s3(directory):
            with tempfile.TemporaryDirectory(prefix="arka-backup-") as tmp:
                manifest = backup(source, Path(tmp) / "backup")
                upload(Path(tmp) / "backup", directory)
        else:
            manifest = backup(source, Path(directory))
    except StoreError as exc:
        fail(exc.message)
    record_operator_event(settings, "backup.create", directory,
                          {"counts": manifest["counts"], "log": manifest["log"]})
    click.echo(json.dumps(manifest, indent=2))


@click.command("restore")
@click.option("--from", "directory", required=True,
              help="A backup directory or s3://bucket/prefix.")
@click.option("--confirm", is_flag=True, help="Required: restore into the target database.")
@store_options(database_url_help="Target database (must be new and empty).")
def restore_cmd(directory: str, confirm: bool, store: StoreOptions) -> None:
    """Restore a backup into a new, empty database, checking it against its manifest."""
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
    except StoreError as exc:
        fail(exc.message)
    record_operator_event(settings, "backup.restore", directory,
                          {"counts": manifest["counts"], "log": manifest["log"]})
    click.echo(f"restored and verified: {json.dumps(manifest['counts'])}, log tree size "
               f"{manifest['log']['tree_size']}")
