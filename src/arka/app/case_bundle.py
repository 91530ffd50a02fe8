"""A case's signed bundle: everything a regulator needs to check a case offline.

    {"bundle_version": 1, "type": "arka.case_bundle", "exported_at", "tenant",
     "case": {...},                      the case as the API shows it
     "events": [...],                    its hash chain, in order
     "evaluations": [...],               every linked evaluation record, as stored
     "inclusion_proofs": {id: {...}},    each record's proof in the log, under
     "sth": {...},                       one signed tree head
     "algorithm": "Ed25519", "key_id", "public_key": {JWK},
     "signature"}                        Ed25519 over the RFC 8785 bytes of all the rest

`verify_bundle` checks one with nothing but the bundle (and, to know the key is the
service's, its published keys): the signature, the chain, each record against its trust
proof, each inclusion proof against the tree head, and that the case, its events and the
records name the same evaluations. Both are pure: no database, no network.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from arka.base.errors import ArkaError
from arka.security.case_chain import verify_case_chain
from arka.trust.proofs import (
    Check,
    KeyRing,
    b64url,
    b64url_decode,
    canonical,
    now_rfc3339,
    verify_record,
    verify_tree_head,
)
from arka.trust.proofs import jwk_public_key as _jwk_key
from arka.trust.proofs import public_jwk as _jwk

BUNDLE_TYPE = "arka.case_bundle"
BUNDLE_VERSION = 1


def build_bundle(tenant: str, case: dict[str, Any], events: list[dict[str, Any]],
                 records: list[dict[str, Any]], transparency: Any, keys: KeyRing
                 ) -> dict[str, Any]:
    """The signed bundle of a case (see the module)."""
    sth = transparency.sth()
    proofs = {r["evaluation_id"]: transparency.inclusion(r["evaluation_id"],
                                                         int(sth["tree_size"]))
              for r in records}
    bundle: dict[str, Any] = {
        "bundle_version": BUNDLE_VERSION, "type": BUNDLE_TYPE, "exported_at": now_rfc3339(),
        "tenant": tenant, "case": case, "events": events, "evaluations": records,
        "inclusion_proofs": proofs, "sth": sth, "algorithm": "Ed25519",
        "key_id": keys.active_id, "public_key": _jwk(keys.active.public_key())}
    bundle["signature"] = b64url(keys.active.sign(canonical(bundle)))
    return bundle


def is_bundle(document: Any) -> bool:
    return isinstance(document, dict) and document.get("type") == BUNDLE_TYPE


def _ids_in_events(events: list[Any]) -> list[str]:
    out: list[str] = []
    for e in events:
        details = e.get("details") if isinstance(e, dict) else None
        if not isinstance(details, dict):
            continue
        if e.get("action") == "opened":
            out += [i for i in details.get("evaluation_ids") or [] if isinstance(i, str)]
        elif e.get("action") == "evaluation_added" and isinstance(
                details.get("evaluation_id"), str):
            out.append(details["evaluation_id"])
    return out


def _signature(bundle: dict[str, Any], keys: dict[str, Ed25519PublicKey],
               given: bool) -> Check:
    key_id = bundle.get("key_id")
    key = keys.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        return Check("bundle_signature", False, f"no public key {key_id!r}" + (
            " among the keys given with --key" if given else ""))
    if bundle.get("algorithm") != "Ed25519":
        return Check("bundle_signature", False,
                     f"unsupported algorithm {bundle.get('algorithm')!r}")
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    try:
        key.verify(b64url_decode(str(bundle.get("signature", ""))), canonical(unsigned))
    except (InvalidSignature, ValueError, ArkaError):
        return Check("bundle_signature", False, "the signature does not match the bundle "
                     "(something in it was changed)")
    where = "a key given with --key" if given else \
        "the key the bundle carries (give --key to check it is the service's)"
    return Check("bundle_signature", True, f"valid Ed25519 signature by {key_id}, {where}")


def verify_bundle(bundle: Any, keys: dict[str, Ed25519PublicKey] | None = None
                  ) -> list[Check]:
    """Every check of a case bundle, offline. `keys`: the service's public keys (else
    the key the bundle carries is used, which proves integrity but not origin)."""
    if not is_bundle(bundle):
        return [Check("bundle", False, "not a case bundle (type arka.case_bundle)")]
    missing = [k for k in ("case", "events", "evaluations", "inclusion_proofs", "sth",
                           "key_id", "signature") if k not in bundle]
    if missing:
        return [Check("bundle", False, f"the bundle lacks {', '.join(missing)}")]
    case, events, records = bundle["case"], bundle["events"], bundle["evaluations"]
    proofs, sth = bundle["inclusion_proofs"], bundle["sth"]
    if not (isinstance(case, dict) and isinstance(events, list) and
            isinstance(records, list) and isinstance(proofs, dict) and
            isinstance(sth, dict)):
        return [Check("bundle", False, "case, sth and inclusion_proofs must be objects, "
                      "events and evaluations lists")]
    given = keys is not None
    if keys is None:
        try:
            keys = {str(bundle["key_id"]): _jwk_key(bundle.get("public_key") or {})}
        except ArkaError as exc:
            return [Check("bundle_signature", False, f"the bundle's public_key: {exc.message}")]
    checks = [_signature(bundle, keys, given)]
    chain = verify_case_chain(events, case.get("id"))
    if chain["valid"] and (chain["head"] != case.get("head_hash") or
                           chain["events"] != case.get("version")):
        chain = dict(chain, valid=False, error=(
            f"the case says version {case.get('version')} with head {case.get('head_hash')}; "
            f"the chain has {chain['events']} events ending in {chain['head']} (an event was "
            "removed or added)"))
    checks.append(Check("case_chain", chain["valid"], chain["error"] or
                        f"{chain['events']} events linked, head {chain['head'][:16]}…"))
    checks.append(verify_tree_head(sth, keys))
    ids = case.get("evaluation_ids")
    record_ids = [r.get("evaluation_id") if isinstance(r, dict) else None for r in records]
    same = isinstance(ids, list) and sorted(map(str, ids)) == sorted(map(str, record_ids)) \
        and sorted(proofs) == sorted(map(str, record_ids)) \
        and sorted(set(_ids_in_events(events))) == sorted(set(map(str, ids)))
    checks.append(Check("evaluation_ids", same,
                        f"the case, its events, the records and the inclusion proofs name "
                        f"the same {len(record_ids)} evaluation(s)" if same else
                        f"the case names {ids!r}, its events {_ids_in_events(events)!r}, the "
                        f"records {record_ids!r}, the proofs {sorted(proofs)!r}"))
    tenant = bundle.get("tenant") if isinstance(bundle.get("tenant"), str) else None
    for record in records:
        rid = record.get("evaluation_id") if isinstance(record, dict) else None
        inclusion = proofs.get(rid) if isinstance(rid, str) else None
        report = verify_record(record, keys, inclusion=inclusion, tenant=tenant)
        failed = [f"{c.name}: {c.detail}" for c in report.checks if c.status == "failed"]
        if inclusion is not None and isinstance(inclusion, dict) and \
                inclusion.get("sth") != sth:
            failed.append("inclusion: its tree head is not the bundle's")
        checks.append(Check(f"evaluation {rid}", not failed, "; ".join(failed) or
                            "record matches its signed trust proof; in the log under the "
                            "bundle's tree head"))
    return checks
