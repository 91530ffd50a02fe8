"""`arka-cli log`: the transparency log of a running ARKA Core (sth, inclusion,
checkpoint, key, bundle), its export as static C2SP tiles (export-tiles) and a monitor
that follows any C2SP log (monitor)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from arka.interfaces.cli.common import SERVER_URL, StoreOptions, fail, store_options

API_KEY_HELP = "API key for the server (or set ARKA_API_KEY)."


def _get_json(url: str, api_key: str | None = None) -> Any:
    try:
        return json.loads(_get(url, api_key))
    except ValueError:
        fail(f"{url}: the answer is not JSON", 2)


def _get(url: str, api_key: str | None) -> bytes:
    """The body of GET url (exit 2 when unreachable, 1 on an error status, naming it)."""
    import httpx
    try:
        r = httpx.get(url, timeout=30, headers={"X-API-Key": api_key} if api_key else {})
    except httpx.HTTPError as exc:
        fail(f"cannot reach {url}: {exc}", 2)
    if r.status_code != 200:
        fail(f"{url}: HTTP {r.status_code}: {r.text[:500]}")
    return r.content


@click.group("log")
def log_group() -> None:
    """The transparency log: tree heads, checkpoints, inclusion proofs and bundles, the
    export as static tiles, and a monitor for split views."""


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




@log_group.command("checkpoint")
@click.option("--url", default=SERVER_URL, show_default=True)
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_checkpoint(url: str, api_key: str | None) -> None:
    """Print the log's checkpoint: a signed note (origin, tree size, base64 root) with the
    witnesses' cosignatures."""
    click.echo(_get(url.rstrip("/") + "/api/v1/log/checkpoint", api_key).decode(), nl=False)


@log_group.command("key")
@click.option("--url", default=SERVER_URL, show_default=True)
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_key(url: str, api_key: str | None) -> None:
    """Print the log's verifier keys (name+id+key), the active one first."""
    click.echo(_get(url.rstrip("/") + "/api/v1/log/key", api_key).decode(), nl=False)


@log_group.command("bundle")
@click.argument("evaluation_id")
@click.option("--url", default=SERVER_URL, show_default=True)
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write the proof here (default: print it).")
def log_bundle(evaluation_id: str, url: str, api_key: str | None, out: str | None) -> None:
    """Fetch an evaluation's proof bundle (c2sp.org/tlog-proof@v1: its leaf index, the
    inclusion path and the cosigned checkpoint); check it offline with
    `arka-cli verify RECORD --bundle FILE --log-key KEY`."""
    if not evaluation_id or "/" in evaluation_id:
        fail("EVALUATION_ID must be an evaluation id such as eval_...", 2)
    data = _get(f"{url.rstrip('/')}/api/v1/evaluations/{evaluation_id}/proof-bundle", api_key)
    if out is None:
        click.echo(data.decode(), nl=False)
        return
    Path(out).write_bytes(data)
    click.echo(f"wrote {out}")


def _writer(dest: str) -> tuple[Callable[[str, bytes], None], Callable[[str], bool]]:
    """put(path, data) and exists(path) for a directory or an s3://bucket/prefix."""
    from arka.storage.objects import ObjectStoreError, is_s3, s3_client, split_s3
    if is_s3(dest):
        try:
            bucket, prefix = split_s3(dest)
        except ObjectStoreError as exc:
            fail(exc.message, 2)
        client = s3_client()

        def key(path: str) -> str:
            return f"{prefix}/{path}" if prefix else path

        def put_s3(path: str, data: bytes) -> None:
            kind = "text/plain; charset=utf-8" if path == "checkpoint" else \
                "application/octet-stream"
            client.put_object(Bucket=bucket, Key=key(path), Body=data, ContentType=kind)

        def exists_s3(path: str) -> bool:
            from botocore.exceptions import ClientError
            try:
                client.head_object(Bucket=bucket, Key=key(path))
                return True
            except ClientError:
                return False
        return put_s3, exists_s3
    root = Path(dest)
    if root.exists() and not root.is_dir():
        fail(f"{dest} exists and is not a directory", 2)

    def put_file(path: str, data: bytes) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # a mirror is for reading by anyone
        os.replace(tmp, target)
    return put_file, lambda path: (root / path).is_file()


@log_group.command("export-tiles")
@click.argument("dest")
@store_options()
def log_export_tiles(dest: str, store: StoreOptions) -> None:
    """Write the log as static C2SP files to DEST (a directory or s3://bucket/prefix):
    `checkpoint`, hash tiles `tile/<L>/<N>[.p/<W>]` and entry bundles
    `tile/entries/<N>[.p/<W>]`. Full tiles already there are kept (they never change);
    the checkpoint is written last, so a reader never sees one its tiles do not cover.
    Serve DEST with any web server, or read it with `arka-cli log monitor --url DEST`."""
    from arka.base.errors import ArkaError
    put, exists = _writer(dest)
    core = store.operator_core()
    try:
        report = core.transparency.export(put, exists)
    except ArkaError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"cannot write to {dest}: {exc}", 2)
    except Exception as exc:  # noqa: BLE001 - e.g. S3 credentials or bucket errors
        fail(f"cannot write to {dest}: {type(exc).__name__}: {exc}", 2)
    click.echo(f"tree size {report['tree_size']}: wrote {report['written']} files, kept "
               f"{report['kept']} full tiles already there, to {dest}")


def _fetcher(url: str, api_key: str | None) -> Callable[[str], bytes]:
    """fetch(path) under a log prefix: an http(s) URL or a directory."""
    if url.startswith(("http://", "https://")):
        import httpx
        client = httpx.Client(timeout=30, headers={"X-API-Key": api_key} if api_key else {})

        def get(path: str) -> bytes:
            r = client.get(url.rstrip("/") + "/" + path)
            if r.status_code != 200:
                raise LookupError(f"{url.rstrip('/')}/{path}: HTTP {r.status_code}")
            return r.content
        return get
    root = Path(url)
    if not root.is_dir():
        fail(f"--url {url} is neither an http(s) URL nor a directory", 2)

    def read(path: str) -> bytes:
        try:
            return (root / path).read_bytes()
        except OSError as exc:
            raise LookupError(f"{root / path}: {exc.strerror}") from None
    return read


@log_group.command("monitor")
@click.option("--url", required=True,
              help="The log's prefix: http(s)://HOST/api/v1/log for ARKA Core, or the URL "
                   "or directory of a mirror written by export-tiles.")
@click.option("--state", "state_file", required=True, type=click.Path(dir_okay=False),
              help="JSON file with the last checkpoint verified (created on the first run).")
@click.option("--log-key", "log_keys", multiple=True, required=True,
              help="The log's verifier key or a file holding it; repeatable.")
@click.option("--witness-key", "witness_keys", multiple=True,
              help="A witness's cosigner key or a file holding it; repeatable.")
@click.option("--quorum", type=click.IntRange(0), default=None,
              help="Cosignatures each checkpoint needs (default: every --witness-key).")
@click.option("--interval", type=click.FloatRange(0), default=0, show_default=True,
              help="Seconds between checks; 0 checks once.")
@click.option("--api-key", envvar="ARKA_API_KEY", help=API_KEY_HELP)
def log_monitor(url: str, state_file: str, log_keys: tuple[str, ...],
                witness_keys: tuple[str, ...], quorum: int | None, interval: float,
                api_key: str | None) -> None:
    """Follow a log: verify its checkpoint (signature, cosignatures), that its tiles hash
    to the checkpoint's root, and that it is consistent with the last checkpoint seen.
    Exit 0 when consistent, 1 on a split view (both checkpoints are printed) or a bad
    checkpoint or tiles, 2 when the log cannot be read or the options are wrong."""
    from arka.interfaces.cli.verify import _verifier_keys
    from arka.trust.monitor import Seen, SplitView, observe
    from arka.trust.note import NoteError
    logs = _verifier_keys(log_keys, "--log-key")
    witnesses = _verifier_keys(witness_keys, "--witness-key")
    need = len(witnesses) if quorum is None else quorum
    if need > len(witnesses):
        fail(f"--quorum {need} is more than the {len(witnesses)} --witness-key given", 2)
    fetch = _fetcher(url, api_key)
    state = Path(state_file)
    while True:
        seen = None
        if state.exists():
            try:
                seen = Seen.from_json(json.loads(state.read_text(encoding="utf-8")))
            except (OSError, ValueError, NoteError) as exc:
                fail(f"cannot read the monitor state {state_file}: {exc}", 2)
        try:
            got = observe(fetch, logs, seen, witnesses, need)
        except SplitView as exc:
            click.echo(f"SPLIT VIEW: {exc.message}\n--- seen before:\n{exc.seen}--- now:\n"
                       f"{exc.now}", err=True)
            sys.exit(1)
        except NoteError as exc:
            fail(exc.message)
        except LookupError as exc:
            fail(f"cannot read the log: {exc}", 2)
        cp = got.checkpoint
        if got.grew >= 0:
            tmp = state.with_name(state.name + ".tmp")
            tmp.write_text(json.dumps(Seen(cp.size, cp.root, got.note).to_json(), indent=2))
            tmp.replace(state)
        cosigned = f", cosigned by {', '.join(got.cosigned_by)}" if got.cosigned_by else ""
        click.echo(f"ok {cp.origin} size {cp.size} (+{max(got.grew, 0)}){cosigned}"
                   + (" (an older checkpoint, consistent)" if got.grew < 0 else ""))
        if not interval:
            return
        time.sleep(interval)
