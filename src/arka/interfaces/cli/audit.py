"""`arka-cli audit verify|list`: the hash-chained audit log, on the database directly."""

from __future__ import annotations

import json
import sys

import click

from arka.interfaces.cli.common import StoreOptions, store_options


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log: list events, verify the chains."""


@audit_group.command("verify")
@click.option("--tenant", help="One tenant's chain (default: every chain).")
@store_options()
def audit_verify(tenant: str | None, store: StoreOptions) -> None:
    """Recompute every event's hash; exit 1 naming the first event that does not check."""
    core = store.operator_core()
    tenants = [tenant] if tenant else core.audit.tenants()
    bad = False
    for t in tenants:
        out = core.audit.verify(t)
        bad |= not out["valid"]
        status = "ok" if out["valid"] else "BROKEN"
        click.echo(f"{t}: {status}, {out['events']} events, head {out['head']}"
                   + (f"\n  {out['error']}" if out["error"] else ""))
    if not tenants:
        click.echo("no audit events yet")
    sys.exit(1 if bad else 0)


@audit_group.command("list")
@click.option("--tenant", default="default", show_default=True,
              help="Tenant chain; _system holds failed logins and operator events.")
@click.option("--action", help="Only this action, e.g. rule.deploy or auth.failure.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@store_options()
def audit_list(tenant: str, action: str | None, limit: int, store: StoreOptions) -> None:
    """Print the newest audit events of a tenant as JSON lines."""
    core = store.operator_core()
    for item in core.audit.events(tenant, 1, limit, action, None)["items"]:
        click.echo(json.dumps(item, ensure_ascii=False))
