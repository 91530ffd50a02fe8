"""`arka-cli`: rule files (validate, test, compile, disassemble, evaluate, benchmark), the
service (serve, rtvm, plugin-host), plugins (plugin, screen) and its operation (db, backup, keys, apikey, audit, config, log,
anchor, verify, health).

One module per command group; `common` holds what they share (the store options, the
settings and Core built from them, errors and exit codes).

Exit codes: 0 success, 1 rule errors / failed tests / rejected input, 2 usage errors.
"""

from __future__ import annotations

import click

from arka.interfaces.cli import (
    anchor,
    apikey,
    audit,
    backup,
    case,
    config,
    db,
    health,
    keys,
    log,
    plugin,
    plugin_host,
    rtvm,
    rule,
    screen,
    serve,
    verify,
    witness,
)
from arka.version import __version__

__all__ = ["main"]

# the package's attributes stay its modules: main's commands are only reached through main
COMMANDS: tuple[click.Command, ...] = (
    rule.rule, rule.eval_cmd, serve.serve, db.db, log.log_group, rtvm.rtvm, anchor.anchor,
    keys.keys, apikey.apikey, audit.audit_group, config.config_group, backup.backup_cmd,
    backup.restore_cmd, verify.verify_cmd, health.health, plugin.plugin,
    plugin_host.plugin_host, screen.screen_cmd, case.case, witness.witness)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arka-cli")
def main() -> None:
    """ARKA Engine command line."""


for _command in COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
