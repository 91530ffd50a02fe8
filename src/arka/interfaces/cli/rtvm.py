"""`arka-cli rtvm serve|debug`: the RTVM as a gRPC service, and re-running a stored
evaluation on the bytecode interpreter."""

from __future__ import annotations

import json
import sys

import click

from arka.interfaces.cli.common import StoreOptions, fail, store_options


@click.group()
def rtvm() -> None:
    """The RTVM: run it as a service, debug a stored evaluation."""


@rtvm.command("serve")
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256),
              envvar="ARKA_RTVM_WORKERS", help="Worker processes (the Helm chart's rtvm.config.workerThreads).")
@click.option("--max-stack-depth", default=1000, show_default=True,
              type=click.IntRange(16, 1_000_000), envvar="ARKA_RTVM_MAX_STACK_DEPTH")
@click.option("--max-heap-size", default="64MB", show_default=True,
              envvar="ARKA_RTVM_MAX_HEAP_SIZE", help="Per evaluation, e.g. 64MB or 8GB.")
@click.option("--max-instructions", default=10_000_000, show_default=True,
              type=click.IntRange(1000), envvar="ARKA_RTVM_MAX_INSTRUCTIONS")
@click.option("--max-execution-time", default="30s", show_default=True,
              envvar="ARKA_RTVM_MAX_EXECUTION_TIME", help="Per evaluation, e.g. 30s.")
@click.option("--redis-url", envvar="ARKA_REDIS_URL",
              help="Share validated bytecode and tables between RTVM processes and replicas.")
@click.option("--plugin-host", envvar="ARKA_PLUGIN_HOST", metavar="HOST:PORT",
              help="The plugin host rules' plugin calls go to (default: the plugins "
                   "installed here).")
def rtvm_serve(host: str, port: int, workers: int, max_stack_depth: int, max_heap_size: str,
               max_instructions: int, max_execution_time: str, redis_url: str | None,
               plugin_host: str | None) -> None:
    """Run the RTVM as a gRPC service for ARKA Core (`rtvm.host` in its configuration)."""
    import os

    from arka.observability import configure_logging
    from arka.rpc.rtvm import RemoteError, serve
    from arka.rtvm.vm import Limits
    from arka.settings.file import parse_duration, parse_size
    try:
        limits = Limits(max_stack_depth=max_stack_depth, max_instructions=max_instructions,
                        max_heap_size=parse_size(max_heap_size),
                        max_execution_time=parse_duration(max_execution_time))
    except ValueError as exc:
        fail(str(exc), 2)
    configure_logging(os.environ.get("ARKA_LOG_LEVEL", "info").lower(),
                      os.environ.get("ARKA_LOG_FORMAT", "text").lower())
    try:
        serve(host, port, workers, limits, redis_url, plugin_host)
    except RemoteError as exc:
        fail(exc.message, 2)


@rtvm.command("debug")
@click.option("--evaluation-id", required=True)
@click.option("--show-trace", is_flag=True, help="Print every instruction (pc, opcode, stack top).")
@store_options()
@click.option("--tenant", default="default", show_default=True)
def rtvm_debug(evaluation_id: str, show_trace: bool, tenant: str, store: StoreOptions) -> None:
    """Re-run a stored evaluation on the bytecode interpreter with its recorded rule and
    table versions and its recorded plugin results (no plugin is called); report whether
    it reproduces, each rule's conditions and plugin calls and, with --show-trace, every
    instruction."""
    from arka.base.errors import ArkaError
    core = store.core()
    try:
        out = core.evaluations.replay(tenant, evaluation_id, trace="full")
    except ArkaError as exc:
        fail(exc.message)
    click.echo(f"evaluation {evaluation_id}: "
               f"{'reproduces' if out['match'] else 'DOES NOT REPRODUCE'} "
               f"({out['replay_output_hash']})")
    click.echo(f"decision: {out['result']['decision']}")
    for rr in out["rule_results"]:
        conds = ", ".join(f"{k}={'true' if v else 'false'}" for k, v in rr["conditions"].items())
        err = f"  error {rr['error']['code']}: {rr['error']['message']}" if "error" in rr else ""
        click.echo(f"rule {rr['rule_id']}@{rr['version']}: {rr['status']}  {conds}{err}")
        for i, call in enumerate(rr.get("plugin_calls", [])):
            args = json.dumps(call["args"], ensure_ascii=False, sort_keys=True)
            outcome = (f"error {call['error']['code']}: {call['error']['message']}"
                       if "error" in call else
                       "-> " + json.dumps(call["result"], ensure_ascii=False, sort_keys=True))
            click.echo(f"  plugin call {i}: {call['plugin']}.{call['function']}({args}) "
                       f"{call['plugin']} {call['version']}, recorded {outcome}")
    if show_trace:
        for rule in out["trace"] or []:
            click.echo(f"--- {rule['rule_id']}@{rule['version']}")
            for e in rule["events"]:
                if "op" in e:
                    top = json.dumps(e["top"], ensure_ascii=False) if e["top"] is not None else ""
                    click.echo(f"  {e['fn']:<28} {e['pc']:>5}  {e['op']:<14} {top}")
                else:
                    click.echo("  " + json.dumps(e, ensure_ascii=False))
    sys.exit(0 if out["match"] else 1)
