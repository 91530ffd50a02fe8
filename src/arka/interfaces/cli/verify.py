"""`arka-cli verify`: an evaluation record's trust proof offline, with its log inclusion and
its anchor on chain."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from arka.base import values as V
from arka.interfaces.cli.common import fail, read_json

if TYPE_CHECKING:
    from arka.trust.proofs import Check


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
    except OSError as exc:
        fail(f"cannot read key file {key_source}: {exc.strerror}", 2)


def _anchor_check(inclusion: Any, rpc_url: str, contract_address: str) -> Check:
    """Is the inclusion proof's tree head root anchored on chain with the same tree size?"""
    from arka.trust.chain import ChainAdapter, ChainConfig, ChainError
    from arka.trust.proofs import Check
    try:
        head = inclusion["sth"]
        # reading needs no key; the adapter wants one for sending, a throwaway does
        adapter = ChainAdapter(ChainConfig("verify", rpc_url, contract_address, 1, "0x" + "01" * 32))
        block, size = adapter.read_anchor(bytes.fromhex(head["root_hash"]))
    except (ChainError, KeyError, TypeError, ValueError) as exc:
        return Check("anchor", False, f"cannot read the anchor: {exc}")
    if block == 0:
        return Check("anchor", False, "this tree head's root is not anchored in the contract")
    if size != int(head["tree_size"]):
        return Check("anchor", False, f"anchored with tree size {size}, the proof says "
                                      f"{head['tree_size']}")
    return Check("anchor", True, f"root anchored in block {block} with tree size {size}")


@click.command("verify")
@click.argument("evaluation_file")
@click.option("--key", "key_source", required=True,
              help="Public key: a JWKS/JWK/PEM file or an http(s) URL of /api/v1/keys.")
@click.option("--inclusion", "inclusion_file",
              help="Inclusion proof JSON (from `arka-cli log inclusion`): also check that the "
                   "proof is in the log under its signed tree head.")
@click.option("--anchor", "check_anchor", is_flag=True,
              help="Also read the tree head's root from the anchor contract over RPC "
                   "(needs --inclusion, --rpc-url and --contract).")
@click.option("--rpc-url", help="JSON-RPC endpoint of the anchoring chain.")
@click.option("--contract", "contract_address", help="Address of the ArkaAnchor contract.")
def verify_cmd(evaluation_file: str, key_source: str, inclusion_file: str | None,
               check_anchor: bool, rpc_url: str | None, contract_address: str | None) -> None:
    """Verify an evaluation record's trust proof offline (and its log inclusion and anchor)."""
    if check_anchor and not (inclusion_file and rpc_url and contract_address):
        fail("--anchor needs --inclusion (for the anchored tree size), --rpc-url and "
             "--contract", 2)
    from arka.trust.proofs import (
        Check,
        SigningKeyError,
        load_public_keys,
        verify_inclusion_proof,
        verify_record,
    )
    record = read_json(evaluation_file, "evaluation record")
    if not isinstance(record, dict):
        fail("the evaluation record must be a JSON object", 2)
    key_data = _key_data(key_source)
    try:
        keys = load_public_keys(key_data)
    except SigningKeyError as exc:
        fail(exc.message, 2)
    report = verify_record(V.to_json(record), keys)
    if inclusion_file is not None:
        inclusion = read_json(inclusion_file, "inclusion proof")
        try:
            report.checks += verify_inclusion_proof(V.to_json(record), V.to_json(inclusion), keys)
        except (KeyError, TypeError, ValueError) as exc:
            report.checks.append(Check("inclusion", False, f"malformed inclusion proof: {exc}"))
        if check_anchor:
            report.checks.append(_anchor_check(inclusion, str(rpc_url), str(contract_address)))
    for check in report.checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    click.echo("VALID" if report.valid else "INVALID")
    sys.exit(0 if report.valid else 1)
