"""`arka-cli anchor deploy`: the anchor contract on an EVM chain."""

from __future__ import annotations

import click

from arka.interfaces.cli.common import fail


@click.group()
def anchor() -> None:
    """The anchor contract on an EVM chain."""


@anchor.command("deploy")
@click.option("--rpc-url", required=True, help="JSON-RPC endpoint of the chain.")
@click.option("--private-key-env", default="ARKA_ANCHOR_PRIVATE_KEY", show_default=True,
              help="Environment variable holding the operator account's private key.")
def anchor_deploy(rpc_url: str, private_key_env: str) -> None:
    """Deploy the ArkaAnchor contract; prints its address for `contract_address`."""
    import os

    from arka.trust.chain import ChainAdapter, ChainConfig, ChainError
    key = os.environ.get(private_key_env)
    if not key:
        fail(f"set the operator's private key in ${private_key_env}", 2)
    try:
        address = ChainAdapter(ChainConfig("cli", rpc_url, None, 1, key)).deploy()
    except ChainError as exc:
        fail(str(exc))
    click.echo(address)
