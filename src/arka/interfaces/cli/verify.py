"""`arka-cli verify`: an evaluation record's trust proof offline, with its log inclusion and
its anchor on chain; or a case bundle (`GET /api/v1/cases/{id}/export`): its signature,
the case's event chain, every record's proof and inclusion under the bundle's tree head.

Exit status: 0 nothing failed and everything the record's signature covers was checked
(its place in the log and its anchors need --inclusion or --bundle, and --anchor, and are listed as NOT
CHECKED without them); 1 a check failed (INVALID); 2 the record, inclusion proof or key
could not be read, or the options are wrong; 3 nothing failed but part of the record is not
covered by its proof (a proof version 1 record), or, with --require-complete, any check
could not run (INCOMPLETE, each named).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from arka.interfaces.cli.common import fail

if TYPE_CHECKING:
    from arka.trust.proofs import Check

#: The largest record or inclusion proof file read (a record with a full trace can be big).
MAX_FILE_BYTES = 256 * 1024 * 1024
EXIT = {"valid": 0, "invalid": 1, "incomplete": 3}
#: Checks that need evidence from outside the record (the log, the chain): without it they
#: are NOT CHECKED but do not make the exit status 3 unless --require-complete.
EXTERNAL = {"log_index": "--inclusion or --bundle", "anchors": "--inclusion and --anchor"}
MARK = {"ok": "ok  ", "failed": "FAIL", "not_checked": "NOT CHECKED"}


def _read_json_file(path: str, what: str) -> Any:
    """A JSON file exactly as written (numbers as JSON numbers); exit 2 when unreadable."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            fail(f"{what} {path} is {size} bytes; at most {MAX_FILE_BYTES} are read", 2)
        data = Path(path).read_bytes()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror}", 2)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        fail(f"{what} {path} is not UTF-8 text (byte {exc.start})", 2)
    except json.JSONDecodeError as exc:
        fail(f"{what} {path} is not valid JSON: {exc.msg} at line {exc.lineno} column "
             f"{exc.colno}", 2)
    except RecursionError:
        fail(f"{what} {path} nests too deeply to read (no ARKA record nests beyond a few "
             "hundred levels)", 2)
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        fail(f"{what} {path} holds a value that cannot be read: {exc}", 2)


def _key_data(key_source: str) -> str:
    """The public keys as text: fetched from an http(s) URL or read from a file."""
    if key_source.startswith(("http://", "https://")):
        import httpx
        try:
            return httpx.get(key_source, timeout=10).raise_for_status().text
        except httpx.HTTPError as exc:
            fail(f"cannot fetch keys from {key_source}: {exc}", 2)
    try:
        return Path(key_source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read key file {key_source}: {getattr(exc, 'strerror', None) or exc}", 2)


def _anchor_reader(rpc_url: str, contract_address: str) -> Any:
    from arka.trust.chain import ChainAdapter, ChainConfig
    # reading needs no key; the adapter wants one for sending, a throwaway does
    adapter = ChainAdapter(ChainConfig("verify", rpc_url, contract_address, 1, "0x" + "01" * 32))

    def read(root_hex: str) -> tuple[int, int]:
        block, size = adapter.read_anchor(bytes.fromhex(root_hex))
        return int(block), int(size)
    return read


def _anchor_check(inclusion: Any, read: Any) -> Check:
    """Is the inclusion proof's tree head root anchored on chain with the same tree size?"""
    from arka.trust.proofs import Check
    try:
        head = inclusion["sth"]
        block, size = read(head["root_hash"])
    except Exception as exc:  # noqa: BLE001 - a malformed proof or any RPC failure
        return Check("anchor", False, f"cannot read the anchor: {exc}")
    if block == 0:
        return Check("anchor", False, "this tree head's root is not anchored in the contract")
    if size != head["tree_size"]:
        return Check("anchor", False, f"anchored with tree size {size}, the proof says "
                                      f"{head['tree_size']}")
    return Check("anchor", True, f"root anchored in block {block} with tree size {size}")


def _verify_bundle(bundle: Any, key_source: str | None, as_json: bool) -> None:
    """A case bundle: exit 0 when every check passed, 1 when one failed."""
    from arka.app.case_bundle import verify_bundle
    from arka.trust.proofs import SigningKeyError, load_public_keys
    keys = None
    if key_source is not None:
        try:
            keys = load_public_keys(_key_data(key_source))
        except SigningKeyError as exc:
            fail(exc.message, 2)
    checks = verify_bundle(bundle, keys)
    failed = [c.name for c in checks if not c.ok]
    if as_json:
        click.echo(json.dumps({"valid": not failed, "failed": failed,
                               "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail}
                                          for c in checks]}, indent=2))
        sys.exit(1 if failed else 0)
    for check in checks:
        click.echo(f"{MARK['ok' if check.ok else 'failed']} {check.name}: {check.detail}")
    case_id = bundle.get("case", {}).get("id") if isinstance(bundle.get("case"), dict) else None
    click.echo(f"INVALID: failed {', '.join(failed)}" if failed else
               f"VALID: case {case_id}" + ("" if keys is not None else
                                           " (signed by the key the bundle carries; give "
                                           "--key to check it is the service's)"))
    sys.exit(1 if failed else 0)


def _verifier_keys(values: tuple[str, ...], what: str) -> tuple[Any, ...]:
    """Verifier keys given inline or as files (one or more per file, one per line)."""
    from arka.trust.note import NoteError, Verifier
    out = []
    for value in values:
        texts = [value]
        if "+" not in value or Path(value).is_file():
            try:
                texts = [t for t in Path(value).read_text(encoding="utf-8").splitlines()
                         if t.strip()]
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"{what} {value!r} is neither a verifier key (name+id+key) nor a "
                     f"readable file: {getattr(exc, 'strerror', None) or exc}", 2)
        for text in texts:
            try:
                out.append(Verifier.parse(text))
            except NoteError as exc:
                fail(f"{what}: {exc.message}", 2)
    return tuple(out)


def _proof_bundle(bundle_file: str | None, log_keys: tuple[str, ...],
                  witness_keys: tuple[str, ...], quorum: int | None,
                  inclusion_file: str | None) -> Any:
    if bundle_file is None:
        if log_keys or witness_keys or quorum is not None:
            fail("--log-key, --witness-key and --quorum go with --bundle", 2)
        return None
    from arka.trust.note import COSIGNATURE_V1, ED25519
    from arka.trust.verification import ProofBundle
    if inclusion_file is not None:
        fail("give --inclusion or --bundle, not both", 2)
    logs = _verifier_keys(log_keys, "--log-key")
    if not logs:
        fail("--bundle needs --log-key (the log's verifier key, GET /api/v1/log/key)", 2)
    if any(v.sig_type != ED25519 for v in logs):
        fail("--log-key must be a log key (type 01), not a witness's cosigner key", 2)
    witnesses = _verifier_keys(witness_keys, "--witness-key")
    if any(v.sig_type != COSIGNATURE_V1 for v in witnesses):
        fail("--witness-key must be a cosigner key (type 04)", 2)
    need = len(witnesses) if quorum is None else quorum
    if need > len(witnesses):
        fail(f"--quorum {need} is more than the {len(witnesses)} --witness-key given", 2)
    try:
        size = Path(bundle_file).stat().st_size
        if size > MAX_FILE_BYTES:
            fail(f"proof bundle {bundle_file} is {size} bytes; at most {MAX_FILE_BYTES} are "
                 "read", 2)
        text = Path(bundle_file).read_bytes()
    except OSError as exc:
        fail(f"cannot read proof bundle {bundle_file}: {exc.strerror}", 2)
    return ProofBundle(text, logs, witnesses, need)


@click.command("verify")
@click.argument("evaluation_file")
@click.option("--key", "key_source",
              help="Public key: a JWKS/JWK/PEM file or an http(s) URL of /api/v1/keys. "
                   "Required for an evaluation record; for a case bundle, without it the "
                   "key the bundle carries is used.")
@click.option("--inclusion", "inclusion_file",
              help="Inclusion proof JSON (from `arka-cli log inclusion`): check the record's "
                   "log_index and that its proof is in the log under a signed tree head. "
                   "Without it log_index is NOT CHECKED.")
@click.option("--bundle", "bundle_file",
              help="Proof bundle (c2sp.org/tlog-proof@v1, from `arka-cli log bundle`): check "
                   "the record's log_index and its inclusion under the bundle's checkpoint, "
                   "signed by --log-key and cosigned by --quorum of the --witness-key "
                   "witnesses.")
@click.option("--log-key", "log_keys", multiple=True,
              help="The log's verifier key (name+id+key, from GET /api/v1/log/key), or a "
                   "file holding it; repeatable. Needed with --bundle.")
@click.option("--witness-key", "witness_keys", multiple=True,
              help="A witness's cosigner verifier key, or a file holding it; repeatable.")
@click.option("--quorum", type=click.IntRange(0), default=None,
              help="Witness cosignatures the checkpoint needs (default: every --witness-key).")
@click.option("--anchor", "check_anchor", is_flag=True,
              help="Also read the tree head's root, and every anchor the record lists, from "
                   "the anchor contract over RPC (needs --inclusion, --rpc-url, --contract).")
@click.option("--rpc-url", help="JSON-RPC endpoint of the anchoring chain.")
@click.option("--contract", "contract_address", help="Address of the ArkaAnchor contract.")
@click.option("--tenant", help="Fail unless the proof was signed for this tenant.")
@click.option("--require-complete", is_flag=True,
              help="Exit 3 unless every check ran, including the log and anchor checks "
                   "that need --inclusion / --anchor.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_cmd(evaluation_file: str, key_source: str | None, inclusion_file: str | None,
               bundle_file: str | None, log_keys: tuple[str, ...],
               witness_keys: tuple[str, ...], quorum: int | None, check_anchor: bool, rpc_url: str | None, contract_address: str | None,
               tenant: str | None, require_complete: bool, as_json: bool) -> None:
    """Verify an evaluation record offline: every field against its trust proof, the
    signature, and with --inclusion its place in the log (and with --anchor on chain).
    Given a case bundle (from GET /api/v1/cases/{id}/export), verify it instead: the
    bundle's signature, the case's event chain, each record's proof, each inclusion proof
    against the bundle's signed tree head, and that they all name the same evaluations
    (exit 0 valid, 1 invalid).

    Prints each check (ok, FAIL, NOT CHECKED), then each field of the record with the
    checks that covered it, then VALID, INVALID or INCOMPLETE. Exit 0 valid (log_index
    and anchors are NOT CHECKED without --inclusion or --bundle / --anchor), 1 invalid, 2 unreadable
    input or bad options, 3 incomplete (part of the record is not covered by its proof,
    as in a proof version 1 record; with --require-complete, any check that did not run)."""
    if check_anchor and not (inclusion_file and rpc_url and contract_address):
        fail("--anchor needs --inclusion (for the anchored tree size), --rpc-url and "
             "--contract", 2)
    from arka.app.case_bundle import is_bundle
    from arka.trust.proofs import SigningKeyError, load_public_keys, verify_record
    record = _read_json_file(evaluation_file, "evaluation record")
    if is_bundle(record):
        _verify_bundle(record, key_source, as_json)
    if key_source is None:
        fail("--key is required to verify an evaluation record (a JWKS/JWK/PEM file or "
             "the URL of /api/v1/keys)", 2)
    try:
        keys = load_public_keys(_key_data(key_source))
    except SigningKeyError as exc:
        fail(exc.message, 2)
    inclusion = None
    if inclusion_file is not None:
        inclusion = _read_json_file(inclusion_file, "inclusion proof")
    bundle = _proof_bundle(bundle_file, log_keys, witness_keys, quorum, inclusion_file)
    reader = _anchor_reader(str(rpc_url), str(contract_address)) if check_anchor else None
    report = verify_record(record, keys, inclusion=inclusion, tenant=tenant,
                           anchor_reader=reader, bundle=bundle)
    if reader is not None and report.checks and report.checks[0].name != "record":
        report.checks.append(_anchor_check(inclusion, reader))
    unchecked = [c.name for c in report.checks if c.status == "not_checked"]
    verdict = report.verdict
    if verdict == "incomplete" and not require_complete \
            and all(name in EXTERNAL for name in unchecked):
        verdict = "valid"
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        sys.exit(EXIT[verdict])
    for check in report.checks:
        click.echo(f"{MARK[check.status]} {check.name}: {check.detail}")
    click.echo("fields:")
    for f in report.fields():
        click.echo(f"  {f['field']} -> {', '.join(f['checks'])} -> {MARK[f['status']].strip()}")
    if verdict == "valid" and unchecked:
        needs = "; ".join(f"{name} needs {EXTERNAL[name]}" for name in unchecked)
        click.echo(f"VALID (not checked offline: {needs})")
    elif verdict == "valid":
        click.echo("VALID")
    elif verdict == "invalid":
        failed = [c.name for c in report.checks if c.status == "failed"]
        click.echo(f"INVALID: failed {', '.join(failed)}")
    else:
        click.echo(f"INCOMPLETE: nothing failed, NOT CHECKED: {', '.join(unchecked)}")
    sys.exit(EXIT[verdict])
