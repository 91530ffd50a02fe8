"""`arka-cli case`: list, show and work cases on a running service over its HTTP API
(`--url`, default http://127.0.0.1:8080 or ARKA_URL; `--api-key` or ARKA_API_KEY). Every
command prints the API's JSON answer; a refusal exits 1 with the API's error message,
an unreachable service or bad options exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from arka.interfaces.cli.common import SERVER_URL, fail

ACTIONS = ("assign", "claim", "release", "comment", "escalate", "close", "approve",
           "reject", "reopen")
STATUSES = ("open", "in_review", "escalated", "pending_approval", "closed")


def _options(command: Any) -> Any:
    command = click.option("--api-key", envvar="ARKA_API_KEY",
                           help="API key sent as X-API-Key (env ARKA_API_KEY).")(command)
    command = click.option("--url", envvar="ARKA_URL", default=SERVER_URL, show_default=True,
                           help="Base URL of the service (env ARKA_URL).")(command)
    return click.option("--timeout", default=30.0, show_default=True, type=float,
                        help="Seconds to wait for an answer.")(command)


def _call(url: str, api_key: str | None, timeout: float, method: str, path: str,
          **kwargs: Any) -> Any:
    """The API's JSON answer; exit 1 with its error message when it refuses."""
    import httpx
    headers = {"X-API-Key": api_key} if api_key else {}
    try:
        r = httpx.request(method, url.rstrip("/") + path, headers=headers, timeout=timeout,
                          **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}", 2)
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else r.text[:500]
        code = error.get("code") if isinstance(error, dict) else r.status_code
        fail(f"{message} ({code}, HTTP {r.status_code})", 1)
    return body


def _print(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group("case")
def case() -> None:
    """List, show and work cases on a running service (JSON output)."""


@case.command("list")
@_options
@click.option("--status", type=click.Choice(STATUSES), help="Only cases in this state.")
@click.option("--queue", help="Only cases in this queue.")
@click.option("--assignee", help="Only cases assigned to this person.")
@click.option("--entity-id", help="Only cases of this entity (e.g. a customer id).")
@click.option("--from", "start", help="Opened at or after (RFC 3339).")
@click.option("--to", "end", help="Opened at or before (RFC 3339).")
@click.option("--page", default=1, show_default=True, type=click.IntRange(1))
@click.option("--per-page", default=20, show_default=True, type=click.IntRange(1, 100))
def list_cmd(url: str, api_key: str | None, timeout: float, status: str | None,
             queue: str | None, assignee: str | None, entity_id: str | None,
             start: str | None, end: str | None, page: int, per_page: int) -> None:
    """List cases, newest first, with filters."""
    params = {k: v for k, v in (("status", status), ("queue", queue), ("assignee", assignee),
                                ("entity_id", entity_id), ("from", start), ("to", end),
                                ("page", page), ("per_page", per_page)) if v is not None}
    _print(_call(url, api_key, timeout, "GET", "/api/v1/cases", params=params))


@case.command("show")
@_options
@click.argument("case_id")
@click.option("--events", is_flag=True, help="Print the case's event chain instead.")
@click.option("--verify", "check", is_flag=True,
              help="Re-check the case's event chain on the service; exit 1 if it fails.")
@click.option("--export", "export_file", metavar="FILE",
              help="Write the signed case bundle to FILE (verify it with arka-cli verify).")
def show_cmd(url: str, api_key: str | None, timeout: float, case_id: str, events: bool,
             check: bool, export_file: str | None) -> None:
    """Show one case (or its events, its chain check, its signed bundle)."""
    base = f"/api/v1/cases/{quote(case_id, safe='')}"
    if export_file is not None:
        bundle = _call(url, api_key, timeout, "GET", base + "/export")
        Path(export_file).write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
        _print({"case_id": case_id, "written": export_file,
                "events": len(bundle.get("events", [])),
                "evaluations": len(bundle.get("evaluations", []))})
        return
    if check:
        report = _call(url, api_key, timeout, "GET", base + "/verify")
        _print(report)
        if not report.get("valid"):
            raise SystemExit(1)
        return
    _print(_call(url, api_key, timeout, "GET", base + ("/events" if events else "")))


@case.command("act")
@_options
@click.argument("case_id")
@click.argument("action", type=click.Choice(ACTIONS))
@click.option("--disposition", help="close: the decision (e.g. false_positive, "
                                    "true_positive, sar_filed, no_action).")
@click.option("--reason", help="close, escalate, reopen: why (required for them).")
@click.option("--assignee", help="assign: the person.")
@click.option("--assignee-group", help="assign: the group.")
@click.option("--text", help="comment: the note.")
@click.option("--note", help="approve, reject: the note (required to reject).")
@click.option("--queue", help="escalate: move the case to this queue.")
@click.option("--priority", help="escalate: the new priority.")
@click.option("--expected-version", type=click.IntRange(0),
              help="Act only if the case is still at this version (its event count).")
def act_cmd(url: str, api_key: str | None, timeout: float, case_id: str, action: str,
            disposition: str | None, reason: str | None, assignee: str | None,
            assignee_group: str | None, text: str | None, note: str | None,
            queue: str | None, priority: str | None, expected_version: int | None) -> None:
    """Take an action on a case: assign, claim, release, comment, escalate (analysts);
    close, approve, reject, reopen (compliance officers). Prints the case afterwards."""
    body: dict[str, Any] = {"action": action}
    for key, value in (("disposition", disposition), ("reason", reason),
                       ("assignee", assignee), ("assignee_group", assignee_group),
                       ("text", text), ("note", note), ("queue", queue),
                       ("priority", priority), ("expected_version", expected_version)):
        if value is not None:
            body[key] = value
    _print(_call(url, api_key, timeout, "POST", f"/api/v1/cases/{quote(case_id, safe='')}/actions",
                 json=body))
