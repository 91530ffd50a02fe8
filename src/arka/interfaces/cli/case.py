"""`arka-cli case` (placeholder: being written)."""

import click


@click.group("case")
def case() -> None:
    """Work cases on a running service."""
