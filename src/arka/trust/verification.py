"""The evaluation record format, version by version, and its offline verifier.

A record is a JSON object; its `trust_proof` says which proof format signed it
(`proof_version`, absent in version 1). Every field a record may carry is listed in
`FORMATS` with the checks that cover it; a field not listed is an unsigned claim and fails
`record_fields`. `verify_record` runs every check and reports each one (ok, failed, or not
checked), and for every field of the record which checks covered it. It never raises on a
malformed record: a wrong type, a missing field, a value too deep to canonicalise are failed
checks naming what is wrong.

Version 1 (ARKA 0.1.0) signed input, context, result, basic trace and rule versions only;
such records still verify under the version 1 rules, which report the fields they leave
uncovered. `log_index` is the leaf index in the transparency log; its only signed witness
is the log, so it is checked against an inclusion proof under a signed tree head (ARKA's
JSON form, or a `c2sp.org/tlog-proof@v1` bundle with its checkpoint and cosignatures), and
reported as not checked without one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from arka.base.errors import ArkaError
from arka.trust import merkle
from arka.trust.canonical import MAX_DEPTH, b64url_decode, canonical, depth_exceeds, digest
from arka.trust.note import NoteError, TlogProof, Verifier, cosigners, open_checkpoint

#: The proof format new records are signed with.
PROOF_VERSION = 2

#: Metadata keys that are per evaluation (not a function of input and rule versions):
#: the proof signs their values directly, and `metadata_hash` covers the rest.
PER_EVALUATION_METADATA = ("evaluation_duration_ms",)

#: A record nests its input and traces a few levels below the top.
RECORD_MAX_DEPTH = MAX_DEPTH + 8

#: The keys of a version 1 proof (ARKA 0.1.0), all strings.
PROOF_FIELDS = ("proof_id", "evaluation_id", "timestamp", "input_hash", "context_hash",
                "rules_hash", "output_hash", "trace_hash", "engine_version", "algorithm",
                "key_id", "signature")

_HASH = re.compile(r"sha256:[0-9a-f]{64}\Z")
_B64URL = re.compile(r"[A-Za-z0-9_-]+\Z")
_HEX32 = re.compile(r"[0-9a-f]{64}\Z")
_HASH_KEYS = ("input_hash", "context_hash", "rules_hash", "output_hash", "trace_hash",
              "rule_results_hash", "metadata_hash", "full_trace_hash", "full_trace_ref_hash")


@dataclass(frozen=True)
class ProofFormat:
    version: int
    required: tuple[str, ...]  # proof keys
    optional: tuple[str, ...]
    record_required: tuple[str, ...]
    fields: dict[str, tuple[str, ...]]  # record field -> the checks that cover it
    uncovered: tuple[str, ...] = ()  # record fields this version does not sign


_COMMON_FIELDS = {
    "evaluation_id": ("evaluation_id",), "timestamp": ("timestamp",),
    "context": ("context_hash",), "input": ("input_hash",), "result": ("output_hash",),
    "trace": ("trace_hash",), "log_index": ("log_index",), "anchors": ("anchors",),
}

FORMATS: dict[int, ProofFormat] = {
    1: ProofFormat(
        1, PROOF_FIELDS, (),
        ("evaluation_id", "timestamp", "context", "input", "result", "metadata", "trace",
         "trust_proof"),
        {**_COMMON_FIELDS, "trust_proof": ("proof_fields", "signature"),
         "metadata": ("rules_hash", "proof_version_1"), "rule_results": ("proof_version_1",),
         "full_trace": ("proof_version_1",), "full_trace_ref": ("proof_version_1",)},
        ("rule_results", "metadata (all but rules and tables)", "full_trace",
         "full_trace_ref")),
    2: ProofFormat(
        2,
        ("proof_version", "proof_id", "evaluation_id", "tenant", "timestamp", "input_hash",
         "context_hash", "rules_hash", "output_hash", "trace_hash", "rule_results_hash",
         "metadata_hash", "engine_version", "algorithm", "key_id", "signature"),
        (*PER_EVALUATION_METADATA, "full_trace_hash", "full_trace_ref_hash"),
        ("evaluation_id", "timestamp", "context", "input", "result", "rule_results",
         "metadata", "trace", "trust_proof", "log_index"),
        {**_COMMON_FIELDS, "trust_proof": ("proof_fields", "signature", "tenant"),
         "metadata": ("metadata_hash", "rules_hash", *PER_EVALUATION_METADATA),
         "rule_results": ("rule_results_hash",), "full_trace": ("full_trace_hash",),
         "full_trace_ref": ("full_trace_ref_hash",)}),
}

OK, FAILED, NOT_CHECKED = "ok", "failed", "not_checked"


def signed_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The part of `metadata` that `metadata_hash` covers: all but the per-evaluation keys."""
    return {k: v for k, v in metadata.items() if k not in PER_EVALUATION_METADATA}


def rules_reference(metadata: dict[str, Any]) -> list[dict[str, str]]:
    """The list `rules_hash` covers: rules in evaluation order, then the tables used."""
    rules = [{"rule_id": r["rule_id"], "version": r["version"], "bytecode_hash": r["bytecode_hash"]}
             for r in metadata.get("rules", [])]
    tables = [{"table": t["table"], "version": t["version"], "content_hash": t["content_hash"]}
              for t in metadata.get("tables", [])]
    return rules + tables


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    status: str = ""  # ok | failed | not_checked (a check that could not run offline)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = OK if self.ok else FAILED


def _not_checked(name: str, detail: str) -> Check:
    return Check(name, False, detail, NOT_CHECKED)


@dataclass
class Verification:
    checks: list[Check]
    record_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)
    proof_version: int | None = None

    @property
    def valid(self) -> bool:
        """No check failed (every covered field matches and the signature holds)."""
        return all(c.status != FAILED for c in self.checks)

    @property
    def complete(self) -> bool:
        """Every check ran and passed: nothing in the record was left unchecked."""
        return all(c.status == OK for c in self.checks)

    @property
    def verdict(self) -> str:
        return "invalid" if not self.valid else "valid" if self.complete else "incomplete"

    def fields(self) -> list[dict[str, Any]]:
        """Each field of the record, the checks that covered it, and their outcome."""
        by_name: dict[str, list[Check]] = {}
        for c in self.checks:
            by_name.setdefault(c.name, []).append(c)
        out = []
        for name, covering in self.record_fields.items():
            ran = [c for n in covering for c in by_name.get(n, [])]
            statuses = {c.status for c in ran}
            status = FAILED if FAILED in statuses else NOT_CHECKED if (
                NOT_CHECKED in statuses or not ran) else OK
            out.append({"field": name, "checks": sorted({c.name for c in ran}) or list(covering),
                        "status": status})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "complete": self.complete, "verdict": self.verdict,
                "proof_version": self.proof_version,
                "failed": [c.name for c in self.checks if c.status == FAILED],
                "not_checked": [c.name for c in self.checks if c.status == NOT_CHECKED],
                "checks": [{"check": c.name, "ok": c.ok, "status": c.status,
                            "detail": c.detail} for c in self.checks],
                "fields": self.fields()}


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "an integer", float: "a number"}.get(type(value),
                                                                        type(value).__name__)


def _is_int(value: Any) -> bool:
    return type(value) is int


def _format_of(proof: dict[str, Any]) -> tuple[ProofFormat | None, str]:
    if "proof_version" not in proof:
        return FORMATS[1], ""
    version = proof["proof_version"]
    if not _is_int(version) or version not in FORMATS:
        return None, (f"trust_proof.proof_version is {version!r}: this verifier knows "
                      f"versions {', '.join(map(str, sorted(FORMATS)))} (absent = 1)")
    return FORMATS[version], ""


def _proof_problems(proof: dict[str, Any], fmt: ProofFormat) -> list[str]:
    problems = [f"trust_proof lacks {k}" for k in fmt.required if k not in proof]
    known = set(fmt.required) | set(fmt.optional)
    problems += [f"trust_proof.{k} is not a field of proof version {fmt.version} (an "
                 "unsigned claim)" for k in proof if k not in known]
    for k, v in proof.items():
        if k not in known:
            continue
        if k == "proof_version":
            continue
        if k in PER_EVALUATION_METADATA:
            if type(v) not in (int, float):
                problems.append(f"trust_proof.{k} must be a number, not {_type(v)}")
        elif type(v) is not str:
            problems.append(f"trust_proof.{k} must be a string, not {_type(v)}")
        elif k in _HASH_KEYS and not _HASH.match(v):
            problems.append(f"trust_proof.{k} must be 'sha256:' and 64 lowercase hex digits")
        elif k == "signature" and not _B64URL.match(v):
            problems.append("trust_proof.signature must be unpadded base64url")
    return problems


def _hash_of(record: dict[str, Any], key: str, make: Callable[[Any], Any] | None = None
             ) -> tuple[str | None, str]:
    """(digest, "") of record[key] (through `make`), or (None, why not)."""
    if key not in record:
        return None, f"the record has no {key}"
    try:
        value = record[key] if make is None else make(record[key])
        return digest(value), ""
    except ArkaError as exc:
        return None, f"{key} cannot be hashed: {exc.message}"
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
        return None, f"{key} is malformed ({type(exc).__name__}: {exc})"


def _metadata_object(meta: Any) -> dict[str, Any]:
    if type(meta) is not dict:
        raise TypeError(f"metadata must be an object, not {_type(meta)}")
    return meta


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical(a) == canonical(b)
    except ArkaError:
        return False


def verify_record(record: Any, keys: dict[str, Ed25519PublicKey], *,
                  inclusion: Any = None, tenant: str | None = None,
                  evaluation_id: str | None = None,
                  anchor_reader: Callable[[str], tuple[int, int]] | None = None,
                  bundle: ProofBundle | None = None) -> Verification:
    """Check an evaluation record against its trust proof, offline.

    `inclusion` (an inclusion proof with its signed tree head) or `bundle` (a tlog-proof
    with the log's and witnesses' keys) checks `log_index`;
    `tenant` / `evaluation_id` are what the caller expects the record to be;
    `anchor_reader(root_hex) -> (block, tree_size)` checks the anchors the record lists."""
    if type(record) is not dict:
        return Verification([Check("record", False, "an evaluation record must be a JSON "
                                   f"object, not {_type(record)}")])
    if depth_exceeds(record, RECORD_MAX_DEPTH):
        return Verification([Check("record", False, f"the record nests deeper than "
                                   f"{RECORD_MAX_DEPTH} levels; no ARKA record does")])
    proof = record.get("trust_proof")
    if type(proof) is not dict:
        return Verification([Check("proof_fields", False, "the record has no trust_proof "
                                   f"object (it has {_type(proof)})")],
                            {k: ("proof_fields",) for k in record})
    fmt, problem = _format_of(proof)
    if fmt is None:
        return Verification([Check("proof_version", False, problem)],
                            {k: ("proof_version",) for k in record})
    fields = {k: fmt.fields.get(k, ("record_fields",)) for k in record}
    problems = _proof_problems(proof, fmt)
    if problems:
        return Verification([Check("proof_fields", False, "; ".join(problems))], fields,
                            fmt.version)
    checks = [Check("proof_fields", True, f"proof version {fmt.version}: every field "
                    "present, each of its type")]
    unknown = [k for k in record if k not in fmt.fields]
    checks.append(Check("record_fields", not unknown, "only fields the proof format knows"
                        if not unknown else f"field(s) {', '.join(map(repr, unknown))} are "
                        f"not part of a version {fmt.version} record (unsigned claims)"))

    def hash_check(name: str, key: str, make: Callable[[Any], Any] | None = None,
                   what: str = "") -> None:
        what = what or key
        actual, why = _hash_of(record, key, make)
        if actual is None:
            checks.append(Check(name, False, why))
        elif name not in proof:
            checks.append(Check(name, False, f"the record carries {key}, which the proof "
                                "does not cover (an unsigned claim)"))
        else:
            ok = actual == proof[name]
            checks.append(Check(name, ok, f"{what} matches" if ok else
                                f"{what} hashes to {actual}, the proof says {proof[name]}"))

    def same_check(name: str, key: str, expected: Any, what: str) -> None:
        if key not in record:
            checks.append(Check(name, False, f"the record has no {key}"))
        elif type(record[key]) is not str or record[key] != expected:
            checks.append(Check(name, False, f"record {key} {record[key]!r} is not the "
                                f"{what} {expected!r}"))
        else:
            checks.append(Check(name, True, f"{key} matches the {what}"))

    hash_check("input_hash", "input")
    hash_check("context_hash", "context")
    hash_check("output_hash", "result")
    hash_check("trace_hash", "trace")
    hash_check("rules_hash", "metadata", lambda m: rules_reference(_metadata_object(m)),
               "metadata.rules and metadata.tables (rule and table versions)")
    same_check("evaluation_id", "evaluation_id", proof["evaluation_id"], "proof's")
    if evaluation_id is not None and proof["evaluation_id"] != evaluation_id:
        checks.append(Check("evaluation_id", False, f"asked for {evaluation_id}, the proof is "
                            f"for {proof['evaluation_id']}"))
    same_check("timestamp", "timestamp", proof["timestamp"], "proof's")
    if fmt.version >= 2:
        hash_check("rule_results_hash", "rule_results")
        hash_check("metadata_hash", "metadata", lambda m: signed_metadata(_metadata_object(m)),
                   "metadata (except " + ", ".join(PER_EVALUATION_METADATA) + ")")
        _per_evaluation_checks(record, proof, checks)
        for key in ("full_trace", "full_trace_ref"):
            if key in record:
                hash_check(f"{key}_hash", key)
        if "full_trace_hash" in proof and "full_trace" not in record and \
                "full_trace_ref" not in record:
            checks.append(Check("full_trace_hash", False, "the proof covers a full trace the "
                                "record does not carry (neither full_trace nor full_trace_ref)"))
        if "full_trace_ref_hash" in proof and "full_trace_ref" not in record:
            checks.append(Check("full_trace_ref_hash", False, "the proof covers a "
                                "full_trace_ref the record does not carry"))
        expected = tenant if tenant is not None else proof["tenant"]
        checks.append(Check("tenant", proof["tenant"] == expected,
                            f"signed for tenant {proof['tenant']!r}" if proof["tenant"] ==
                            expected else f"signed for tenant {proof['tenant']!r}, read as "
                            f"tenant {tenant!r}"))
    else:
        present = [k for k in ("rule_results", "metadata", "full_trace", "full_trace_ref")
                   if k in record]
        checks.append(_not_checked("proof_version_1", "proof version 1 does not cover "
                                   f"{', '.join(fmt.uncovered)}; present here and unchecked: "
                                   f"{', '.join(present) or 'none'}"))
    checks.append(_signature_check(proof, keys))
    checks += _log_checks(record, proof, fmt, bundle if bundle is not None else inclusion,
                          keys)
    if "anchors" in record:
        checks.append(_anchors_check(record["anchors"], record.get("log_index"),
                                     anchor_reader))
    return Verification(checks, fields, fmt.version)


def _per_evaluation_checks(record: dict[str, Any], proof: dict[str, Any],
                           checks: list[Check]) -> None:
    meta = record.get("metadata")
    if type(meta) is not dict:
        return  # metadata_hash reports it
    for key in PER_EVALUATION_METADATA:
        if key not in meta and key not in proof:
            continue
        if key not in meta or key not in proof:
            where = "metadata" if key in meta else "the proof"
            checks.append(Check(key, False, f"only {where} has {key}"))
        else:
            ok = _same(meta[key], proof[key])
            checks.append(Check(key, ok, f"metadata.{key} matches the proof" if ok else
                                f"metadata.{key} is {meta[key]!r}, the proof says "
                                f"{proof[key]!r}"))


def _signature_check(proof: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> Check:
    key = keys.get(proof["key_id"])
    if key is None:
        return Check("signature", False, f"no public key {proof['key_id']!r}")
    if proof["algorithm"] != "Ed25519":
        return Check("signature", False, f"unsupported algorithm {proof['algorithm']!r}")
    unsigned = {k: v for k, v in proof.items() if k != "signature"}
    try:
        key.verify(b64url_decode(proof["signature"]), canonical(unsigned))
    except (InvalidSignature, ValueError, ArkaError):
        return Check("signature", False, "the signature does not match the proof")
    return Check("signature", True, f"valid Ed25519 signature by {proof['key_id']}")


def _log_checks(record: dict[str, Any], proof: dict[str, Any], fmt: ProofFormat,
                inclusion: Any, keys: dict[str, Ed25519PublicKey]) -> list[Check]:
    if "log_index" not in record:
        if "log_index" in fmt.record_required:
            return [Check("log_index", False, "the record has no log_index")]
        if isinstance(inclusion, ProofBundle):
            return verify_proof_bundle(record, inclusion)[0]
        return verify_inclusion_proof(record, inclusion, keys) if inclusion is not None else []
    index = record["log_index"]
    if not _is_int(index) or index < 0:
        return [Check("log_index", False, f"log_index must be a non-negative integer, not "
                      f"{index!r}")]
    if inclusion is None:
        return [_not_checked("log_index", "not checked: its only signed witness is the log; "
                             "give an inclusion proof (arka-cli log inclusion ID, then verify "
                             "--inclusion FILE) or a proof bundle (--bundle)")]
    if isinstance(inclusion, ProofBundle):
        checks, leaf_index = verify_proof_bundle(record, inclusion)
    else:
        checks = verify_inclusion_proof(record, inclusion, keys)
        leaf_index = inclusion.get("leaf_index") if type(inclusion) is dict else None
    ok = _is_int(leaf_index) and leaf_index == index
    checks.append(Check("log_index", ok, f"log_index {index} is the leaf the inclusion proof "
                        "proves" if ok else f"the record says log_index {index}, the "
                        f"inclusion proof is for leaf {leaf_index!r}"))
    return checks


def _anchors_check(anchors: Any, log_index: Any,
                   reader: Callable[[str], tuple[int, int]] | None) -> Check:
    if type(anchors) is not list:
        return Check("anchors", False, f"anchors must be a list, not {_type(anchors)}")
    if not anchors:
        return Check("anchors", True, "no anchors listed")
    for i, a in enumerate(anchors):
        if type(a) is not dict or type(a.get("root_hash")) is not str or not _HEX32.match(
                a["root_hash"]) or not _is_int(a.get("tree_size")):
            return Check("anchors", False, f"anchors[{i}] needs root_hash (64 hex digits) and "
                         "tree_size (an integer)")
    if reader is None:
        return _not_checked("anchors", f"{len(anchors)} anchor(s) listed by the service when "
                            "the record was read, not signed; not checked offline (verify "
                            "--anchor reads them from the chain)")
    for i, a in enumerate(anchors):
        try:
            block, size = reader(a["root_hash"])
        except Exception as exc:  # noqa: BLE001 - any RPC failure is a failed check
            return Check("anchors", False, f"anchors[{i}]: cannot read the anchor: {exc}")
        if block == 0 or size != a["tree_size"]:
            return Check("anchors", False, f"anchors[{i}] (root {a['root_hash'][:16]}…, tree "
                         f"size {a['tree_size']}) is not in the anchor contract")
        if _is_int(log_index) and a["tree_size"] <= log_index:
            return Check("anchors", False, f"anchors[{i}] has tree size {a['tree_size']}, "
                         f"which does not cover log_index {log_index}")
    return Check("anchors", True, f"{len(anchors)} anchor(s) found in the contract")


def _head_problem(head: Any) -> str:
    if type(head) is not dict:
        return f"sth must be an object, not {_type(head)}"
    for k, test in (("tree_size", _is_int), ("root_hash", lambda v: type(v) is str and
                                              bool(_HEX32.match(v))),
                    ("timestamp", lambda v: type(v) is str),
                    ("key_id", lambda v: type(v) is str),
                    ("signature", lambda v: type(v) is str and bool(_B64URL.match(v)))):
        if k not in head:
            return f"sth lacks {k}"
        if not test(head[k]):
            return f"sth.{k} is malformed ({_type(head[k])})"
    return ""


def verify_tree_head(head: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> Check:
    """The signature of a signed tree head: Ed25519 over its canonical bytes without
    `signature`."""
    problem = _head_problem(head)
    if problem:
        return Check("tree_head_signature", False, problem)
    key = keys.get(head["key_id"])
    if key is None:
        return Check("tree_head_signature", False, f"no public key {head['key_id']!r}")
    unsigned = {k: head[k] for k in ("tree_size", "root_hash", "timestamp", "key_id")}
    try:
        key.verify(b64url_decode(head["signature"]), canonical(unsigned))
    except (InvalidSignature, ValueError, ArkaError):
        return Check("tree_head_signature", False, "tree head signature does not match")
    return Check("tree_head_signature", True, f"tree head of size {head['tree_size']} signed by "
                 f"{head['key_id']}")


def _inclusion_problem(inclusion: Any) -> str:
    if type(inclusion) is not dict:
        return f"an inclusion proof must be an object, not {_type(inclusion)}"
    for k in ("leaf_index", "tree_size"):
        if not _is_int(inclusion.get(k)) or inclusion[k] < 0:
            return f"{k} must be a non-negative integer"
    path = inclusion.get("audit_path")
    if type(path) is not list or len(path) > 64 or not all(
            type(p) is str and _HEX32.match(p) for p in path):
        return "audit_path must be a list of at most 64 hashes (64 hex digits each)"
    if "sth" not in inclusion:
        return "the inclusion proof has no sth (signed tree head)"
    return ""


def verify_inclusion_proof(record: dict[str, Any], inclusion: Any,
                           keys: dict[str, Ed25519PublicKey]) -> list[Check]:
    """RFC 9162 inclusion of the record's proof under a signed tree head, offline."""
    problem = _inclusion_problem(inclusion)
    if problem:
        return [Check("inclusion", False, f"malformed inclusion proof: {problem}")]
    head = inclusion["sth"]
    checks = [verify_tree_head(head, keys)]
    if checks[0].status == FAILED and _head_problem(head):
        return checks
    size, index = inclusion["tree_size"], inclusion["leaf_index"]
    if size != head["tree_size"]:
        checks.append(Check("inclusion", False, "proof and tree head are for different sizes"))
        return checks
    if "log_index" in record and record["log_index"] != index:
        checks.append(Check("inclusion", False, f"record says log_index {record['log_index']!r}"
                            f", proof says {index}"))
        return checks
    try:
        leaf = merkle.leaf_hash(canonical(record["trust_proof"]))
    except (ArkaError, KeyError) as exc:
        checks.append(Check("inclusion", False, f"the record's proof has no leaf: {exc}"))
        return checks
    path = [bytes.fromhex(p) for p in inclusion["audit_path"]]
    ok = merkle.verify_inclusion(index, size, leaf, path, bytes.fromhex(head["root_hash"]))
    checks.append(Check("inclusion", ok, f"leaf {index} is in the tree of size {size}" if ok else
                        "the audit path does not lead to the tree head's root"))
    return checks


@dataclass(frozen=True)
class ProofBundle:
    """A `c2sp.org/tlog-proof@v1` proof and the policy it is checked under: the log's
    verifier keys (named by its origin), witnesses' cosigner keys and how many of them
    must have cosigned the checkpoint."""

    text: bytes | str
    log_keys: tuple[Verifier, ...]
    witness_keys: tuple[Verifier, ...] = ()
    quorum: int = 0


def verify_proof_bundle(record: dict[str, Any], bundle: ProofBundle
                        ) -> tuple[list[Check], int | None]:
    """The checkpoint's log signature, its cosignatures against the quorum, and the
    inclusion of the record's proof under its root; with the leaf index the bundle names."""
    try:
        proof = TlogProof.parse(bundle.text)
    except NoteError as exc:
        return [Check("checkpoint", False, f"malformed proof bundle: {exc.message}")], None
    origins = {v.name for v in bundle.log_keys}
    try:
        checkpoint, note = open_checkpoint(proof.checkpoint, bundle.log_keys)
        if checkpoint.origin not in origins:
            raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the log "
                            f"key's name ({', '.join(sorted(origins))})")
    except NoteError as exc:
        return [Check("checkpoint", False, f"the checkpoint does not verify: {exc.message}")], \
            proof.index
    checks = [Check("checkpoint", True, f"checkpoint of {checkpoint.origin} at tree size "
                    f"{checkpoint.size} signed by the log key")]
    if bundle.witness_keys or bundle.quorum:
        try:
            got = cosigners(note, bundle.witness_keys)
            ok = len(got) >= bundle.quorum
            detail = (f"{len(got)} of {len(bundle.witness_keys)} known witnesses cosigned"
                      + (f" ({', '.join(sorted(got))})" if got else "")
                      + f"; {bundle.quorum} required")
        except NoteError as exc:
            ok, detail = False, f"a witness cosignature does not verify: {exc.message}"
        checks.append(Check("cosignatures", ok, detail))
    try:
        leaf = merkle.leaf_hash(canonical(record["trust_proof"]))
    except (ArkaError, KeyError) as exc:
        checks.append(Check("inclusion", False, f"the record's proof has no leaf: {exc}"))
        return checks, proof.index
    ok = merkle.verify_inclusion(proof.index, checkpoint.size, leaf, list(proof.path),
                                 checkpoint.root)
    checks.append(Check("inclusion", ok, f"leaf {proof.index} is in the checkpoint's tree of "
                        f"size {checkpoint.size}" if ok else "the inclusion path does not lead "
                        "to the checkpoint's root"))
    return checks, proof.index
