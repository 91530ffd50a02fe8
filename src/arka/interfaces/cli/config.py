"""`arka-cli config validate|show`: configuration files."""

from __future__ import annotations

import click

from arka.interfaces.cli.common import fail, read_config


@click.group("config")
def config_group() -> None:
    """Configuration files: validate, show the effective configuration."""


@config_group.command("validate")
@click.argument("path")
def config_validate(path: str) -> None:
    """Load the file with ${VAR} substitution and the ARKA_* overrides; exit 2 naming the
    first bad key."""
    from arka.base.errors import ArkaError
    from arka.settings import load
    config = read_config(path)
    try:
        load(config_file=path).check()
    except ArkaError as exc:
        fail(f"{path}: {exc.message}", 2)
    click.echo(f"{path}: valid ({config.environment})")


@config_group.command("show")
@click.argument("path")
def config_show(path: str) -> None:
    """Print the effective configuration (defaults filled in, secrets masked) as YAML."""
    import yaml

    from arka.settings.file import masked
    click.echo(yaml.safe_dump(masked(read_config(path)), sort_keys=False), nl=False)
