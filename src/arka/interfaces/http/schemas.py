"""What the API answers, as pydantic models for the OpenAPI document, and how request
models and documents are published there.

The models describe the bodies; they do not produce them. Every body is the service's
dict written by `reply` (json.dumps, as stored): a record passed through pydantic could
come out with other numbers or key order. Shapes the engine keeps open (`result`,
`context`, `metadata`, a ruleset's `rules`) are objects that allow any member; every
top-level field is named.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from arka.app.requests import (
    ApiKeyRequest,
    BatchRequest,
    EvaluateRequest,
    ExportRequest,
    ReplayRequest,
    ReviewRequest,
)
from arka.base import values as V
from arka.base.errors import API_STATUS
from arka.security.principal import ROLES


def reply(data: Any, status: int = 200) -> Response:
    """A JSON body exactly as the service made it. Writing it cannot fail (the work it
    reports may be committed already): text without a UTF-8 form is written escaped,
    and a value JSON has no form for as its language text."""
    return Response(json_bytes(data), status_code=status, media_type="application/json")


def json_bytes(data: Any) -> bytes:
    try:
        return json.dumps(data, ensure_ascii=False, default=V.to_json).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: \uXXXX escapes are still JSON
        return json.dumps(data, ensure_ascii=True, default=V.to_json).encode("ascii")


class _Open(BaseModel):
    """A body whose members beyond the named ones are open."""

    model_config = ConfigDict(extra="allow")


Open = dict[str, Any]


# ------------------------------------------------------------------ errors

class ErrorInfo(BaseModel):
    code: str = Field(json_schema_extra={"enum": list(API_STATUS)},
                      description="The error category; it fixes the HTTP status")
    message: str
    details: list[Open] = Field(description="Parts of the error: {path, line, column, "
                                "code, message} where they apply")
    request_id: str | None


class ErrorResponse(BaseModel):
    error: ErrorInfo


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": code.replace("_", " ").lower()}
    for code, status in API_STATUS.items()}


# ------------------------------------------------------------------ lists

class _List(BaseModel):
    page: int
    per_page: int
    total: int


# ------------------------------------------------------------------ registry

class _Review(BaseModel):
    status: str = Field(description="pending, active or rejected")
    deployed_by: str | None
    reviewed_by: str | None
    reviewed_at: str | None
    review_note: str | None


class RuleVersionView(_Review):
    name: str
    version: str
    jurisdiction: str
    domain: str | None
    effective_date: str | None
    expiry_date: str | None
    bytecode_hash: str
    created_at: str


class DiagnosticView(BaseModel):
    code: str = Field(description="Stable code; W_ codes are warnings (e.g. W_UNTYPED_FIELD)")
    severity: Literal["error", "warning"]
    file: str
    line: int
    column: int
    message: str


class RuleDeployed(RuleVersionView):
    warnings: list[DiagnosticView] = Field(description="What compiled but may not do what "
                                           "was meant (refused when rules.strict_validation "
                                           "is on)")


class RuleView(RuleVersionView):
    versions: list[str] = Field(description="Every deployed version, oldest first")


class RuleVersionDetail(RuleVersionView):
    source: str
    source_format: str
    disassembly: str


class RuleList(_List):
    items: list[RuleView]


class RuleVersionList(_List):
    items: list[RuleVersionView]


class RuleValidation(BaseModel):
    valid: bool
    name: str
    version: str
    bytecode_hash: str
    warnings: list[DiagnosticView]


class TableVersionView(_Review):
    name: str
    version: str
    kind: str
    content_hash: str


class TableView(TableVersionView):
    versions: list[str]
    source: str


class TableList(_List):
    items: list[TableVersionView]


class SchemaVersionView(_Review):
    name: str
    version: str
    content_hash: str = Field(description="sha256 of the schema's name, version and field "
                              "types (what a rule's bytecode pins)")
    source_hash: str
    created_at: str | None


class SchemaVersionDetail(SchemaVersionView):
    source: str


class SchemaView(SchemaVersionDetail):
    versions: list[str] = Field(description="Every deployed version, oldest first")


class SchemaListItem(SchemaVersionView):
    versions: list[str]


class SchemaList(_List):
    items: list[SchemaListItem]


class PluginFunctionView(BaseModel):
    name: str
    params: list[Open]
    returns: Open
    doc: str
    signature: str = Field(description="e.g. plugin.sanctions.screen(name: string, ...) "
                           "-> object")


class PluginView(BaseModel):
    name: str
    version: str
    trusted: bool = Field(description="trusted plugins may run in ARKA's own process")
    description: str
    distribution: str | None
    permissions: Open
    functions: list[PluginFunctionView]
    host: str = Field(description="in-process, or the plugin host's address")
    runs: str = Field(description="in process, or in worker processes with the limits")


class PluginList(_List):
    items: list[PluginView]
    problems: dict[str, str] | None = Field(
        None, description="installed entry points that did not load, with the reason")


class ScreenMatchView(_Open):
    entity_id: str
    caption: str | None
    schema_: str = Field(alias="schema")
    score: Any = Field(description="0-1, exact decimal")
    datasets: list[str]
    topics: list[str]
    entity_hash: str
    explanation: list[Open] = Field(description="which query feature matched which entity "
                                    "value, and its contribution to the score")


class ScreenResultView(_Open):
    query: Open
    hit: bool
    score: Any
    matches: list[ScreenMatchView]
    allowlisted: list[Open] = Field(description="matches skipped by an allowlist decision")
    reopened: list[Open] = Field(description="allowlist decisions that no longer apply: "
                                 "the entity's list data changed")
    plugin_version: str | None
    data_version: Open | None = Field(description="the lists consulted: name, content "
                                      "hash, record count")


class AllowlistEntryView(_Open):
    id: str
    subject_id: str
    entity_id: str
    entity_hash: str
    entity_caption: str | None
    datasets: list[Open]
    reason: str
    status: str = Field(description="pending, active, rejected or revoked")
    created_by: str
    created_at: str


class AllowlistList(_List):
    items: list[AllowlistEntryView]


class RulesetVersionView(_Review):
    name: str
    version: str
    metadata: Open
    rules: list[Open]
    evaluation_order: Any
    aggregate_decision: Any


class RulesetView(RulesetVersionView):
    versions: list[str]


class RulesetList(_List):
    items: list[RulesetView]


class PendingVersion(BaseModel):
    kind: str = Field(description="rule, ruleset, table or schema")
    name: str
    version: str
    deployed_by: str | None
    deployed_by_persons: list[str] = Field(description="The persons behind that credential "
                                           "(an API key's owner and issuer, a JWT's subject)")
    reviewable: bool = Field(description="Whether the caller may approve or reject it: "
                             "false for what the caller's own person deployed")
    source_hash: str
    created_at: str | None


class ApprovalList(_List):
    items: list[PendingVersion]


# ------------------------------------------------------------------ evaluations

class TrustProof(_Open):
    proof_id: str
    evaluation_id: str
    timestamp: str
    input_hash: str
    context_hash: str
    rules_hash: str
    output_hash: str
    trace_hash: str
    engine_version: str
    algorithm: str
    key_id: str
    signature: str


class AnchorView(BaseModel):
    id: int
    chain: str
    tree_size: int
    root_hash: str
    status: str = Field(description="pending, submitted, confirmed or failed")
    tx_hash: str | None
    nonce: int | None
    block_number: int | None
    block_hash: str | None
    confirmations: int
    attempts: int
    reorgs: int
    last_error: str | None
    created_at: str | None = None
    updated_at: str | None = None
    checkpoint: str | None = Field(None, description="GET /api/v1/anchors/{id} only: the "
                                   "log's signed checkpoint of the anchored tree (same size "
                                   "and root), with its witness cosignatures")


class EvaluationRecord(BaseModel):
    evaluation_id: str
    timestamp: str
    context: Open
    input: Any
    result: Open = Field(description="decision, blocked, flags, annotations, escalations, "
                         "notifications, score_adjustments")
    rule_results: list[Open]
    metadata: Open
    trace: list[Open] = Field(description="The basic trace, covered by trace_hash")
    trust_proof: TrustProof
    log_index: int
    full_trace: list[Open] | None = Field(None, description="With options.trace = full")
    full_trace_ref: Open | None = Field(None, description="Where object storage keeps the "
                                        "full trace")
    anchors: list[AnchorView] | None = Field(None, description="On a stored record: the "
                                             "confirmed anchors covering it, per chain")


class ItemError(BaseModel):
    code: str
    message: str


class BatchItem(BaseModel):
    id: Any = Field(description="The item's id, as sent")
    status: int = Field(description="201, or 400 with the error")
    evaluation: EvaluationRecord | None = None
    error: ItemError | None = None


class BatchResult(BaseModel):
    items: list[BatchItem]
    succeeded: int
    failed: int


class Replay(BaseModel):
    evaluation_id: str
    original_output_hash: str
    replay_output_hash: str
    match: bool
    result: Open
    rule_results: list[Open] | None = None
    trace: list[Open] | None = None


class EvaluationList(_List):
    items: list[EvaluationRecord]


class StatsBucket(BaseModel):
    start: str = Field(description="The bucket's first instant (UTC)")
    counts: dict[str, int] = Field(description="Evaluations per decision ({} when none)")


class RankedRule(BaseModel):
    rule: str
    evaluations: int = Field(description="Evaluations in which the rule ran")


class RankedFlag(BaseModel):
    category: str
    evaluations: int = Field(description="Evaluations that raised a flag of this category")


class Latency(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class ServiceFigures(BaseModel):
    scope: str
    evaluations: int = Field(description="Evaluations asked for (stored + rejected inputs)")
    stored: int
    rejected_inputs: int
    rule_errors: int = Field(description="Stored evaluations in which a rule failed")
    error_rate: float | None = Field(description="(rejected_inputs + rule_errors) / "
                                     "evaluations; null before the first")
    latency_seconds: Latency = Field(description="Of stored evaluations (evaluate, prove, "
                                     "store), estimated from the latency histogram")


class EvaluationStats(BaseModel):
    from_: str = Field(alias="from")
    to: str
    bucket: Literal["hour", "day"]
    total: int
    decisions: dict[str, int]
    series: list[StatsBucket] = Field(description="Every bucket of the window, in order")
    top_rules: list[RankedRule] = Field(description="At most 10, most first")
    top_flags: list[RankedFlag] = Field(description="At most 10, most first")
    service: ServiceFigures


class FullTrace(BaseModel):
    evaluation_id: str
    trace: list[Open]


class Check(BaseModel):
    check: str
    ok: bool
    status: Literal["ok", "failed", "not_checked"]
    detail: str


class FieldCoverage(BaseModel):
    field: str
    checks: list[str]
    status: Literal["ok", "failed", "not_checked"]


class Verification(BaseModel):
    valid: bool
    complete: bool
    verdict: Literal["valid", "invalid", "incomplete"]
    proof_version: int | None
    failed: list[str]
    not_checked: list[str]
    checks: list[Check]
    fields: list[FieldCoverage]
    evaluation_id: str


class ExportManifest(BaseModel):
    export_id: str
    tenant: str
    created_at: str
    created_by: str
    filters: Open
    count: int
    sha256: str
    bytes: int
    uri: str
    key_id: str | None
    media_type: str


# ------------------------------------------------------------------ log, anchors, keys

class TreeHead(BaseModel):
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str


class WitnessStatus(BaseModel):
    name: str
    url: str
    key: str
    size: int = Field(description="The tree size this witness last cosigned")
    updated_at: str | None
    last_error: str | None


class WitnessList(BaseModel):
    quorum: int = Field(description="Cosignatures a checkpoint needs to be served")
    witnesses: list[WitnessStatus]


class Inclusion(BaseModel):
    evaluation_id: str
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]
    sth: TreeHead


class Consistency(BaseModel):
    first: int
    second: int
    consistency_path: list[str]


class ChainStatus(BaseModel):
    chain: str
    confirmation_blocks: int
    contract_address: str | None
    healthy: bool | None
    last_error: str | None


class AnchorList(_List):
    items: list[AnchorView]
    chains: list[ChainStatus]


class Jwk(_Open):
    kty: str
    crv: str
    x: str
    kid: str


class Jwks(BaseModel):
    keys: list[Jwk]


# ------------------------------------------------------------------ API keys, audit

class MeView(BaseModel):
    tenant: str
    subject: str = Field(description="apikey:<id>, jwt:<sub> or dev:no-auth")
    person: str | None = Field(description="The key's owner or the token's subject")
    method: Literal["api_key", "jwt", "none"]
    roles: list[str]
    permissions: list[str] = Field(description="What these roles may do (docs/security.md)")


class ApiKeyView(BaseModel):
    id: str
    tenant: str
    name: str
    roles: list[str]
    prefix: str
    created_at: str | None
    created_by: str | None
    owner: str = Field(description="The person the key belongs to (four-eyes compares "
                       "persons)")
    issued_by: str | None = Field(description="Who created it for its owner through the "
                                  "API (they count as a party of what it does)")
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="The key itself, shown only this once")


class ApiKeyList(_List):
    items: list[ApiKeyView]


class AuditEvent(BaseModel):
    id: str
    tenant: str
    idx: int
    at: str
    actor: str
    action: str
    resource: str
    outcome: str = Field(description="success or denied")
    request_id: str | None
    details: Open
    prev_hash: str
    hash: str


class AuditList(_List):
    items: list[AuditEvent]


class AuditVerification(BaseModel):
    valid: bool
    events: int
    head: str | None
    error: str | None
    tenant: str


# ------------------------------------------------------------------ health

class Health(BaseModel):
    status: str = Field(description="ok, or unavailable / starting")
    checks: dict[str, bool] | None = None


# ------------------------------------------------------------------ route declarations

def ok(model: type[BaseModel], description: str = "OK") -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "description": description}}


def created(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """201 for something new; 200 when the very same thing was there (idempotent)."""
    return {201: {"model": model, "description": "Created"},
            200: {"model": model, "description": "Already there with the same content"}}


REF = "#/components/schemas/{model}"
REQUEST_MODELS: dict[str, type[BaseModel]] = {}


def body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON body of `model` (published in components)."""
    REQUEST_MODELS[model.__name__] = model
    return {"requestBody": {"required": required, "content": {"application/json": {
        "schema": {"$ref": REF.format(model=model.__name__)}}}}}


DOCUMENT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/x-yaml": {"schema": {"type": "string", "description": "The document as "
                                      "YAML (see docs/rules.md)"}},
    "application/json": {"schema": {"type": "object", "description": "The document as "
                                    "JSON"}}}}}

DATETIME = {"type": "string", "format": "date-time"}

# What the services check beyond the request model's types, published with it.
_REFINE: dict[str, dict[str, Any]] = {
    "ApiKeyRequest": {"roles": {"type": "array", "minItems": 1,
                                "items": {"enum": list(ROLES)},
                                "description": "Role names: " + ", ".join(ROLES)},
                      "expires_at": {"anyOf": [DATETIME, {"type": "null"}]}},
    "ExportRequest": {"from": {"anyOf": [DATETIME, {"type": "null"}]},
                      "to": {"anyOf": [DATETIME, {"type": "null"}]}},
}


def request_schemas() -> dict[str, Any]:
    """Each request model's JSON schema (and the models it uses) for components/schemas."""
    out: dict[str, Any] = {}
    for name, model in sorted(REQUEST_MODELS.items()):
        schema = model.model_json_schema(ref_template=REF)
        out.update(schema.pop("$defs", {}))
        for field, refined in _REFINE.get(name, {}).items():
            prop = schema["properties"][field]
            schema["properties"][field] = dict(
                {k: v for k, v in prop.items() if k in ("title", "description", "default")},
                **copy.deepcopy(refined))
        out[name] = schema
    return out


def complete_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Add the request models; drop FastAPI's 422 answers (parameter errors are 400
    VALIDATION_ERROR here)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(request_schemas())
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", ()):
                parameter["schema"] = _not_null(parameter["schema"])
    return document


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its `null` branch: a query parameter is
    absent or text, never null."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b != {"type": "null"}]
    if len(kept) != 1:
        return schema
    out = {k: v for k, v in schema.items() if k != "anyOf"}
    return dict(kept[0], **out)


for _model in (EvaluateRequest, BatchRequest, ReplayRequest, ExportRequest, ApiKeyRequest,
               ReviewRequest):
    REQUEST_MODELS[_model.__name__] = _model
