"""`arka-cli db migrate|status|copy`: the database schema and moving a store."""

from __future__ import annotations

import json
import sys

import click

from arka.interfaces.cli.common import StoreOptions, fail, store_options


@click.group()
def db() -> None:
    """Database schema: migrate and status."""


@db.command("migrate")
@click.option("--confirm", is_flag=True, help="Required: apply the migrations.")
@store_options()
def db_migrate(confirm: bool, store: StoreOptions) -> None:
    """Upgrade the database schema to the latest migration."""
    from arka.storage import Store
    database = Store(store.settings().database_url)
    if not confirm:
        st = database.status()
        fail(f"refusing to migrate {st['dialect']} database from {st['current_revision']} to "
             f"{st['head_revision']} without --confirm (take a backup first)", 2)
    try:
        revision = database.migrate()
    except Exception as exc:  # noqa: BLE001 - report the database's own words
        fail(f"migration failed: {exc}")
    click.echo(f"database is at revision {revision}")


@db.command("status")
@store_options()
def db_status(store: StoreOptions) -> None:
    """Show the schema revision; exit 1 when migrations are pending."""
    from arka.storage import Store
    url = store.settings().database_url
    try:
        st = Store(url).status()
    except Exception as exc:  # noqa: BLE001
        fail(f"cannot reach the database: {exc}")
    click.echo(json.dumps(st, indent=2))
    sys.exit(0 if st["up_to_date"] else 1)


@db.command("copy")
@click.option("--to", "target_url", required=True, help="SQLAlchemy URL of the target database.")
@store_options(database_url_help="Source database URL.")
def db_copy(target_url: str, store: StoreOptions) -> None:
    """Copy all rules, tables, rulesets and evaluations into another (empty) database."""
    from arka.storage import Store, StoreError, copy_store
    source = Store(store.settings().database_url)
    try:
        counts = copy_store(source, Store(target_url))
    except StoreError as exc:
        fail(exc.message)
    click.echo(json.dumps(counts, indent=2))
