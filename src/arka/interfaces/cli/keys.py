"""`arka-cli keys list|rotate`: the proof signing keys in the key directory."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from arka.interfaces.cli.common import StoreOptions, fail, record_operator_event, store_options

if TYPE_CHECKING:
    from arka.settings import Settings
    from arka.trust.proofs import KeyRing

CONFIG_HELP = "Configuration file (for the key directory and the database settings)."


def _ring(settings: Settings) -> KeyRing:
    from arka.trust.proofs import KeyRing
    if settings.key_dir is None:
        fail("these settings have no key directory", 2)
    return KeyRing.open(settings.key_dir)


@click.group()
def keys() -> None:
    """Signing keys of the embedded key directory: list, rotate."""


@keys.command("list")
@store_options(config_help=CONFIG_HELP)
def keys_list(store: StoreOptions) -> None:
    """Print the public keys (JWKS); the active one is named first."""
    ring = _ring(store.settings())
    click.echo(json.dumps({"active": ring.active_id, **ring.jwks()}, indent=2))


@keys.command("rotate")
@store_options(config_help=CONFIG_HELP)
def keys_rotate(store: StoreOptions) -> None:
    """Generate a new active signing key; old keys stay published for verification.
    Running servers pick it up when restarted."""
    settings = store.settings()
    ring = _ring(settings)
    old = ring.active_id
    new = ring.rotate()
    click.echo(f"active key: {new} (was {old})")
    record_operator_event(settings, "signing_key.rotate", f"signing_key:{new}",
                          {"previous": old})
