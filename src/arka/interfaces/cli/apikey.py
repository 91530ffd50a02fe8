"""`arka-cli apikey create|list|revoke`: API keys, on the database directly."""

from __future__ import annotations

import json

import click

from arka.interfaces.cli.common import StoreOptions, fail, operator, store_options


@click.group()
def apikey() -> None:
    """API keys (X-API-Key): create, list, revoke. Works on the database directly, so an
    operator can make the first key of any tenant."""


@apikey.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. 'payments-service'.")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeat for several): admin, compliance_officer, analyst, auditor, "
                   "service, viewer.")
@click.option("--tenant", default="default", show_default=True)
@click.option("--owner", help="The person the key belongs to (a user name or e-mail "
                              "address). Four-eyes approval compares owners: two keys of "
                              "one owner are one person. Without it the key is a person of "
                              "its own.")
@click.option("--expires-in-days", type=click.IntRange(1, 3650),
              help="Expiry; without it the key does not expire.")
@click.option("--key-only", is_flag=True,
              help="Print only the key (for `export ARKA_API_KEY=$(...)`).")
@store_options()
def apikey_create(name: str, roles: tuple[str, ...], tenant: str, owner: str | None,
                  expires_in_days: int | None, key_only: bool, store: StoreOptions) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from datetime import UTC, datetime, timedelta

    from arka.base.errors import ArkaError
    core = store.operator_core()
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    try:
        view = core.apikeys.create(tenant, name, list(roles), expires, operator(),
                                   owner=owner)
    except ArkaError as exc:
        fail(exc.message, 2)
    if key_only:
        click.echo(view["key"])
        return
    click.echo(json.dumps(view, indent=2))
    click.echo("The key is shown only now; send it as 'X-API-Key: <key>'.", err=True)


@apikey.command("list")
@click.option("--tenant", default="default", show_default=True)
@store_options()
def apikey_list(tenant: str, store: StoreOptions) -> None:
    """List a tenant's API keys (never the keys themselves)."""
    core = store.operator_core()
    click.echo(json.dumps(core.apikeys.list(tenant)["items"], indent=2))


@apikey.command("revoke")
@click.argument("key_id")
@click.option("--tenant", default="default", show_default=True)
@store_options()
def apikey_revoke(key_id: str, tenant: str, store: StoreOptions) -> None:
    """Revoke an API key by its id (running servers refuse it within seconds)."""
    from arka.base.errors import ArkaError
    core = store.operator_core()
    try:
        view = core.apikeys.revoke(tenant, key_id.removeprefix("arka_").split("_")[0],
                                   operator())
    except ArkaError as exc:
        fail(exc.message)
    click.echo(json.dumps(view, indent=2))
