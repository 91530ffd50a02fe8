"""`arka-cli db migrate|status|check|copy`: the database schema, its integrity, and moving
a store."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from arka.interfaces.cli.common import StoreOptions, fail, read_json, store_options


@click.group()
def db() -> None:
    """Database schema (migrate, status), integrity (check) and copies."""


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


@db.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(10, 100_000),
              help="Rows read at a time (memory stays bounded by this).")
@click.option("--max-problems", default=1000, show_default=True, type=click.IntRange(1),
              help="Problems listed (all are counted).")
@click.option("--keys", "keys_file",
              help="A JWKS file of further proof signing keys (e.g. retired ones from "
                   "GET /api/v1/keys), besides the key directory's.")
@store_options()
def db_check(as_json: bool, batch: int, max_problems: int, keys_file: str | None,
             store: StoreOptions) -> None:
    """Prove that evaluations, log leaves, subtree hashes and signed tree heads agree.

    Every leaf index from 0 on, each leaf against its evaluation (record opens, leaf hash,
    log_index, proof verifies, filter columns), every evaluation has a leaf, every stored
    subtree hash and every tree head (signature, root over its leaves). Exit 0 when
    consistent, 1 naming each problem, 2 when the check cannot run.
    """
    from arka.app.integrity import Integrity
    core = store.operator_core()
    public = core.keys.public_keys
    if keys_file:
        from arka.trust.proofs import load_public_keys
        extra = load_public_keys(read_json(keys_file, "--keys"))

        def public() -> dict[str, Any]:
            return {**extra, **core.keys.public_keys()}
    checker = Integrity(core.store.evaluations, core.store.log, public)
    try:
        report = checker.check(batch=batch, limit=max_problems)
    except Exception as exc:  # noqa: BLE001 - report the database's own words
        fail(f"the check could not run: {exc}", 2)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        for p in report.problems:
            click.echo(f"{p.where}: {p.kind}: {p.message}")
        click.echo(report.summary() + (f" ({report.to_json()['rows_per_second']} rows/s)"
                                       if report.seconds else ""))
    sys.exit(0 if report.ok else 1)


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
