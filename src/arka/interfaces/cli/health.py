"""`arka-cli health`: the readiness of a running ARKA Core."""

from __future__ import annotations

import sys
import time

import click

from arka.interfaces.cli.common import SERVER_URL, fail


@click.command("health")
@click.option("--url", default=SERVER_URL, show_default=True)
@click.option("--wait", type=float, default=0, help="Seconds to wait for readiness.")
def health(url: str, wait: float) -> None:
    """Check /health/ready of a running ARKA Core; exit 1 when not ready."""
    import httpx
    deadline = time.monotonic() + wait
    while True:
        try:
            r = httpx.get(url.rstrip("/") + "/health/ready", timeout=5)
            if r.status_code == 200:
                click.echo(r.text)
                sys.exit(0)
            last = f"HTTP {r.status_code}: {r.text}"
        except httpx.HTTPError as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            fail(f"not ready: {last}")
        time.sleep(0.5)
