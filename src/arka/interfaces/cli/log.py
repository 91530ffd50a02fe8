"""`arka-cli log sth|inclusion`: the transparency log of a running ARKA Core."""

from __future__ import annotations

import json
from typing import Any

import click

from arka.interfaces.cli.common import SERVER_URL, fail

API_KEY_HELP = "API key for the server (or set ARKA_API_KEY)."


def _get_json(url: str, api_key: str | None = None) -> Any:
    import httpx
    try:
        r = httpx.get(url, timeout=10, headers={"X-API-Key": api_key} if api_key else {})
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}", 2)
    if r.status_code != 200:
        fail(f"{url}: HTTP {r.status_code}: {r.text}")
    return r.json()


@click.group("log")
def log_group() -> None:
    """The transparency log of a running ARKA Core: tree heads and inclusion proofs."""


@log_group.command("sth")
@click.option("--url", default=SERVER_URL, show_default=True)
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_sth(url: str, api_key: str | None) -> None:
    """Print the current signed tree head."""
    click.echo(json.dumps(_get_json(url.rstrip("/") + "/api/v1/log/sth", api_key), indent=2))


@log_group.command("inclusion")
@click.argument("evaluation_id")
@click.option("--url", default=SERVER_URL, show_default=True)
@click.option("--tree-size", type=click.IntRange(1), help="A published tree size (default: now).")
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_inclusion(evaluation_id: str, url: str, tree_size: int | None,
                  api_key: str | None) -> None:
    """Print an evaluation's inclusion proof with the signed tree head it leads to;
    save it for `arka-cli verify --inclusion`."""
    q = f"?evaluation_id={evaluation_id}" + (f"&tree_size={tree_size}" if tree_size else "")
    click.echo(json.dumps(_get_json(url.rstrip("/") + "/api/v1/log/inclusion" + q, api_key),
                          indent=2))
