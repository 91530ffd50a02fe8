"""ARKA Core's domain service: deploy rules and rulesets, evaluate with trust proofs,
replay and verify. HTTP-free; the API layer (`arka.interfaces.http.app`) only parses and maps."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import nodesemver

from arka import observability as OBS
from arka.app.anchoring import AnchorPolicy, AnchorService, anchor_view
from arka.app.idempotency import Idempotency
from arka.base import values as V
from arka.base.errors import ArkaError, CompileError, Diagnostic, InputError, Span
from arka.compiler import CompiledRule, compile_rule, load_bytecode
from arka.engine import ENGINE_VERSION, STRATEGIES, EvaluationResult, RuleSet, normalize_context
from arka.observability import metrics as M
from arka.rpc.rtvm import Group, Item, RemoteRTVM
from arka.rtvm.disasm import disassemble
from arka.rules.loader import NAME_RE, SEMVER_RE
from arka.rules.source import SourceFault, load_document
from arka.rules.tables import TableSet, parse_table
from arka.security import audit
from arka.security.auth import (
    Authenticator,
    AuthSettings,
    Forbidden,
    check_roles,
    check_tenant,
    hash_key,
    new_api_key,
)
from arka.security.crypto import RecordCipher
from arka.security.principal import SYSTEM_ACTOR, SYSTEM_TENANT, Actor
from arka.security.ratelimit import RateLimitSettings
from arka.settings.file import Config, masked
from arka.storage import DEFAULT_TENANT, SYSTEM, Conflict, NotFound, RuleRow, Store
from arka.storage.objects import ObjectMissing, Objects, open_objects
from arka.trust import merkle
from arka.trust.chain import ChainConfig
from arka.trust.proofs import (
    KeyRing,
    b64url,
    basic_trace,
    build_proof,
    canonical,
    digest,
    now_rfc3339,
    verify_record,
)

RULESET_KEYS = ("metadata", "rules", "evaluation_order", "aggregate_decision")
RULES_REFRESH_SECONDS = 1.0
MAX_EXPORT = 100_000
HEAD_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Settings:
    database_url: str
    key_dir: Path | None
    signing_key_pem: str | None = field(default=None, repr=False)
    max_request_size: int = 10 * 1024 * 1024
    max_batch: int = 10_000
    chains: tuple[ChainConfig, ...] = ()
    anchor_policy: AnchorPolicy = AnchorPolicy()
    anchor_poll_seconds: float = 15.0
    environment: str = "development"
    auth: AuthSettings = AuthSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    cors: dict[str, Any] | None = None  # CORSMiddleware arguments; None: no CORS headers
    read_timeout: float = 30.0
    redis_url: str | None = None
    redis_max_connections: int = 50
    # AES-256-GCM key for stored records; None: the key directory's `encryption.key`
    # (made on first start), or no encryption when there is no key directory either
    encryption_key: str | None = field(default=None, repr=False)
    previous_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    config_digest: str | None = None
    require_approval: bool = False  # new versions wait for a second person's approval
    db_pool_size: int = 10  # per process: connections kept open
    db_max_overflow: int = 20  # per process: extra connections under load
    metrics_enabled: bool = True
    metrics_port: int | None = None  # None: /metrics on the API port
    metrics_path: str = "/metrics"
    objects: str | None = None  # object storage (arka.storage.objects); None: none
    rtvm_host: str | None = None  # None: the RTVM runs in process
    rtvm_port: int = 8081
    rtvm_timeout: float = 30.0
    rtvm_max_concurrent: int = 1000
    log_level: str = "info"
    log_format: str = "text"
    log_output: str = "stdout"
    tracing_enabled: bool = False
    tracing_exporter: str = "otlp"
    tracing_endpoint: str | None = None
    tracing_sample_rate: float = 0.1

    @classmethod
    def embedded(cls, data_dir: Path, database_url: str | None = None) -> Settings:
        """Embedded defaults: SQLite file and key directory inside `data_dir`.

        `ARKA_SIGNING_KEY` (PEM) supplies the signing key instead of the key directory;
        `ARKA_JWT_SECRET` enables HS256 bearer tokens; `ARKA_ENCRYPTION_KEY` sets the
        record encryption key.
        """
        from arka.settings.file import encryption_keys, jwt_secret
        url = database_url or os.environ.get("ARKA_DATABASE_URL")
        if url is None:  # the embedded SQLite file lives in the data directory
            data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{(data_dir / 'pact.db').resolve()}"
        current, previous = encryption_keys(os.environ)
        return cls(url, data_dir / "keys", os.environ.get("ARKA_SIGNING_KEY"),
                   objects=os.environ.get("ARKA_OBJECTS") or str(data_dir / "objects"),
                   environment=os.environ.get("ARKA_ENVIRONMENT", "development").lower(),
                   log_level=os.environ.get("ARKA_LOG_LEVEL", "info").lower(),
                   log_format=os.environ.get("ARKA_LOG_FORMAT", "text").lower(),
                   auth=AuthSettings(jwt_secret=jwt_secret(os.environ)),
                   redis_url=os.environ.get("ARKA_REDIS_URL") or None,
                   encryption_key=current, previous_encryption_keys=tuple(previous))

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str] | None = None,
                    database_url: str | None = None) -> Settings:
        """Settings from a validated configuration file (`arka.settings.file`)."""
        from arka.settings.blockchain import parse_blockchain
        from arka.settings.file import encryption_keys, jwt_secret
        env = os.environ if env is None else env
        data_dir = Path(config.storage.data_dir)
        base = cls.embedded(data_dir, database_url or config.database.sqlalchemy_url())
        a = config.api
        current, previous = encryption_keys(env)
        chains, policy, poll = parse_blockchain(config.blockchain, env) if config.blockchain \
            else ([], AnchorPolicy(), 15.0)
        cors = None
        if a.cors.allowed_origins:
            cors = {"allow_origins": list(a.cors.allowed_origins),
                    "allow_methods": list(a.cors.allowed_methods),
                    "allow_headers": list(a.cors.allowed_headers),
                    "allow_credentials": a.cors.allow_credentials,
                    "max_age": int(a.cors.max_age),
                    "expose_headers": ["X-Request-ID", "X-RateLimit-Limit",
                                       "X-RateLimit-Remaining", "X-RateLimit-Reset",
                                       "Retry-After"]}
        auth = AuthSettings(
            enabled=a.auth.enabled, jwt_secret=jwt_secret(env), jwks_url=a.auth.jwks_url,
            issuer=a.auth.jwt_issuer, audience=a.auth.jwt_audience,
            leeway_seconds=int(a.auth.leeway), tenant_claim=a.auth.tenant_claim,
            roles_claim=a.auth.roles_claim, jwks_cache_seconds=int(a.auth.jwks_cache))
        digest_ = hashlib.sha256(json.dumps(masked(config), sort_keys=True).encode()
                                 ).hexdigest()
        return dataclasses.replace(
            base, signing_key_pem=env.get("ARKA_SIGNING_KEY") or None,
            max_request_size=a.max_request_size, chains=tuple(chains),
            anchor_policy=policy, anchor_poll_seconds=poll, environment=config.environment,
            auth=auth, rate_limit=RateLimitSettings(
                a.rate_limiting.enabled, a.rate_limiting.requests_per_minute,
                a.rate_limiting.burst, a.rate_limiting.tenant_requests_per_minute,
                a.rate_limiting.tenant_burst),
            cors=cors, read_timeout=a.read_timeout, redis_url=config.redis.client_url(),
            redis_max_connections=config.redis.max_connections,
            encryption_key=current, previous_encryption_keys=tuple(previous),
            config_digest=digest_, metrics_enabled=config.observability.metrics.enabled,
            metrics_port=config.observability.metrics.port,
            metrics_path=config.observability.metrics.path, log_level=config.log_level,
            log_format=config.log_format, log_output=config.observability.logging.output,
            tracing_enabled=config.observability.tracing.enabled,
            tracing_exporter=config.observability.tracing.exporter,
            tracing_endpoint=config.observability.tracing.endpoint,
            tracing_sample_rate=config.observability.tracing.sample_rate,
            objects=config.storage.objects,
            require_approval=config.governance.require_approval,
            db_pool_size=config.database.min_connections,
            db_max_overflow=max(config.database.max_connections
                                - config.database.min_connections, 0),
            rtvm_host=config.rtvm.host, rtvm_port=config.rtvm.port,
            rtvm_timeout=config.rtvm.timeout, rtvm_max_concurrent=config.rtvm.max_concurrent)

    def check(self) -> None:
        """Refuse settings that are unsafe in production."""
        self.auth.check()
        if self.environment == "production":
            if not self.auth.enabled:
                raise ArkaError("authentication cannot be disabled when ARKA_ENVIRONMENT is "
                                "production")
            if self.encryption_key is None:
                raise ArkaError("production needs an encryption key for stored records: set "
                                "ARKA_ENCRYPTION_KEY (or the encryption-key secret)")
            if self.signing_key_pem is None and not (
                    self.key_dir is not None and any(self.key_dir.glob("*.pem"))):
                raise ArkaError("production needs the proof signing key: set "
                                "ARKA_SIGNING_KEY (Ed25519 PEM) or mount a key directory; a "
                                "key generated into a container would be lost on restart")


def _record_cipher(settings: Settings) -> RecordCipher | None:
    if settings.encryption_key is not None:
        return RecordCipher.from_texts(settings.encryption_key,
                                       settings.previous_encryption_keys)
    if settings.key_dir is None:
        return None
    settings.key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = settings.key_dir / "encryption.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            text = path.read_text().strip()
            if text:
                break
            time.sleep(0.02)
        return RecordCipher.from_texts(text, settings.previous_encryption_keys)
    text = secrets.token_hex(32)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    return RecordCipher.from_texts(text, settings.previous_encryption_keys)


def _content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rfc3339(t: datetime) -> str:
    return V.datetime_text(t)


class ServiceUnavailable(ArkaError):
    """503: a part the request needs is not configured or not reachable."""
    code = "SERVICE_UNAVAILABLE"


class Core:
    def __init__(self, settings: Settings, store: Store | None = None):
        settings.check()
        self.settings = settings
        cipher = _record_cipher(settings)
        self.store = store or Store(settings.database_url, cipher,
                                    pool_size=settings.db_pool_size,
                                    max_overflow=settings.db_max_overflow)
        if self.store.cipher is None:
            self.store.cipher = cipher
        self.keys = KeyRing.open(settings.key_dir, settings.signing_key_pem)
        self.auth = Authenticator(settings.auth, self.store)
        self.objects = open_objects(settings.objects) if settings.objects else None
        self.idempotency = Idempotency(settings.redis_url,
                                       max_connections=settings.redis_max_connections)
        self.rtvm = RemoteRTVM(settings.rtvm_host, settings.rtvm_port, settings.rtvm_timeout,
                               settings.rtvm_max_concurrent) if settings.rtvm_host else None
        self._compiled: dict[str, CompiledRule] = {}
        self._rulesets: OrderedDict[tuple[Any, ...], RuleSet] = OrderedDict()
        self._lock = threading.Lock()
        self.rules_loaded = False
        M.watch_connections(self.store.engine, self.store.connections_available)
        self.anchoring = AnchorService(self.store, self.sth, list(settings.chains),
                                       settings.anchor_policy) if settings.chains else None
        # per tenant: (generation, rows) and when the store was last asked
        self._rows: dict[str, tuple[tuple[int, ...], list[RuleRow]]] = {}
        self._rows_checked: dict[str, float] = {}
        self._tables: dict[str, tuple[tuple[int, ...], TableSet]] = {}
        self._tables_checked: dict[str, float] = {}
        self._head_cache: tuple[float, dict[str, Any] | None] = (-1e9, None)

    def warm(self) -> int:
        """Load and validate every stored rule's bytecode; the startup probe waits for it."""
        rows = self.store.all_rules(SYSTEM)
        for row in rows:
            self._program(row)
        self.rules_loaded = True
        M.RULES_LOADED.set(len(self._compiled))
        return len(rows)

    # ------------------------------------------------------------ audit log
    @staticmethod
    def audit_event(tenant: str, action: str, resource: str, *, actor: Actor,
                    outcome: str = "success", details: dict[str, Any] | None = None
                    ) -> dict[str, Any]:
        return {"id": "aud_" + uuid.uuid4().hex, "tenant": tenant, "at": now_rfc3339(),
                "actor": actor.subject, "action": action, "resource": resource,
                "outcome": outcome, "request_id": actor.request_id, "details": details or {}}

    def audit(self, tenant: str, action: str, resource: str, *, actor: Actor,
              outcome: str = "success", details: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        event = self.store.append_audit(self.audit_event(tenant, action, resource, actor=actor,
                                                         outcome=outcome, details=details))
        assert event is not None
        return event

    def audit_events(self, tenant: str, page: int, per_page: int, action: str | None,
                     outcome: str | None) -> dict[str, Any]:
        items, total = self.store.audit_events(tenant, page=page, per_page=per_page,
                                               action=action, outcome=outcome)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def verify_audit(self, tenant: str) -> dict[str, Any]:
        return dict(audit.verify_chain(self.store.audit_chain(tenant)), tenant=tenant)

    def record_config(self) -> None:
        """Audit a configuration change: the digest of the effective (masked) configuration
        is recorded when it differs from the last one recorded."""
        digest_ = self.settings.config_digest
        if digest_ is None:
            return
        self.store.append_audit(
            self.audit_event(SYSTEM_TENANT, "config.applied", "config", actor=SYSTEM_ACTOR,
                             details={"digest": digest_,
                                      "environment": self.settings.environment}),
            unless_same="digest")

    # ------------------------------------------------------------ API keys
    def create_api_key(self, tenant: str, name: str, roles: list[str],
                       expires_at: datetime | None, actor: Actor = SYSTEM_ACTOR
                       ) -> dict[str, Any]:
        """A new API key; the returned view holds the key itself, shown only this once."""
        check_tenant(tenant)
        roles = check_roles(roles)
        if not name or len(name) > 128:
            raise InputError("name must be 1-128 characters")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise InputError("expires_at must be in the future")
        key_id, key = new_api_key()
        row = {"id": key_id, "tenant": tenant, "name": name, "roles": " ".join(roles),
               "secret_hash": hash_key(key), "created_at": datetime.now(UTC),
               "created_by": actor.subject, "expires_at": expires_at, "revoked_at": None,
               "last_used_at": None}
        self.store.put_api_key(row, audit=self.audit_event(
            tenant, "apikey.create", f"apikey:{key_id}", actor=actor,
            details={"name": name, "roles": roles,
                     "expires_at": _rfc3339(expires_at) if expires_at else None}))
        return dict(_key_view(dict(row, roles=roles)), key=key)

    def list_api_keys(self, tenant: str) -> dict[str, Any]:
        items = [_key_view(k) for k in self.store.list_api_keys(tenant)]
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    def revoke_api_key(self, tenant: str, key_id: str, actor: Actor = SYSTEM_ACTOR
                       ) -> dict[str, Any]:
        row = self.store.revoke_api_key(tenant, key_id, audit=self.audit_event(
            tenant, "apikey.revoke", f"apikey:{key_id}", actor=actor))
        self.auth.forget(key_id)  # other processes: within KEY_CACHE_SECONDS
        return _key_view(row)

    def bootstrap_admin_key(self) -> dict[str, Any] | None:
        """On first start with no API keys at all: an admin key for the default tenant."""
        if self.store.count_api_keys():
            return None
        return self.create_api_key(DEFAULT_TENANT, "bootstrap admin", ["admin"], None,
                                   Actor("system:bootstrap"))

    # ------------------------------------------------------------ approvals
    @property
    def _new_status(self) -> str:
        return "pending" if self.settings.require_approval else "active"

    def review(self, tenant: str, kind: str, name: str, version: str, approve: bool,
               actor: Actor = SYSTEM_ACTOR, note: str | None = None) -> dict[str, Any]:
        """Approve or reject a pending version of a rule, ruleset or table. Four eyes: who
        deployed it cannot review it."""
        current = self._versioned_view(tenant, kind, name, version)
        if current.get("deployed_by") == actor.subject:
            raise Forbidden(f"{actor.subject} deployed {kind} {name}@{version} and cannot "
                            "review it; another approver must")
        action = f"{kind}.{'approve' if approve else 'reject'}"
        self.store.review(tenant, kind, name, version, "active" if approve else "rejected",
                          actor.subject, note, self.audit_event(
                              tenant, action, f"{kind}:{name}@{version}", actor=actor,
                              details={"note": note} if note else {}))
        self._rows_checked.pop(tenant, None)
        self._tables_checked.pop(tenant, None)
        return self._versioned_view(tenant, kind, name, version)

    def _versioned_view(self, tenant: str, kind: str, name: str, version: str
                        ) -> dict[str, Any]:
        if kind == "rule":
            row = self.store.get_rule(tenant, name, version)
            assert row is not None
            return self.rule_version_view(row)
        if kind == "table":
            stored = self.store.get_table(tenant, name, version)
            assert stored is not None
            return _table_view(stored)
        ruleset = self.store.get_ruleset(tenant, name, version)
        assert ruleset is not None
        return _ruleset_view(ruleset)

    def pending(self, tenant: str) -> dict[str, Any]:
        items = self.store.pending(tenant)
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    # ------------------------------------------------------------ rules
    def validate_rule(self, text: str, file: str = "request") -> CompiledRule:
        return compile_rule(text, file)

    def deploy_rule(self, tenant: str, text: str, source_format: str,
                    actor: Actor = SYSTEM_ACTOR) -> tuple[dict[str, Any], bool]:
        compiled = compile_rule(text, "request")
        meta = compiled.metadata
        for dep in meta.get("depends_on", ()):
            if not self.store.rule_versions(tenant, dep):
                raise CompileError([Diagnostic("E_DEPENDENCY", Span("request", 1, 1),
                                               f"depends_on names {dep!r}, which is not "
                                               "deployed; deploy it first")], text)
        row, created = self.store.put_rule(
            tenant, name=compiled.name, version=compiled.version, source=text,
            source_format=source_format, source_hash=_content_hash(text),
            bytecode=compiled.bytecode, bytecode_hash=compiled.bytecode_hash,
            jurisdiction=meta.get("jurisdiction") or "ALL", domain=meta.get("domain"),
            effective_date=meta.get("effective_date"), expiry_date=meta.get("expiry_date"),
            audit=self.audit_event(tenant, "rule.deploy", f"rule:{compiled.name}@"
                                   f"{compiled.version}", actor=actor,
                                   details={"bytecode_hash": compiled.bytecode_hash,
                                            "source_hash": _content_hash(text),
                                            "status": self._new_status}),
            status=self._new_status, deployed_by=actor.subject)
        self._compiled.setdefault(row.bytecode_hash, compiled)
        M.RULES_LOADED.set(len(self._compiled))
        self._rows_checked.pop(tenant, None)  # this process sees its own deploys at once
        return self.rule_version_view(row), created

    def _program(self, row: RuleRow) -> CompiledRule:
        rule = self._compiled.get(row.bytecode_hash)
        if rule is None:
            rule = load_bytecode(row.bytecode)
            if rule.bytecode_hash != row.bytecode_hash:
                raise RuntimeError(f"stored bytecode of {row.name}@{row.version} does not match "
                                   "its hash")
            self._compiled[row.bytecode_hash] = rule
        return rule

    def rule_version_view(self, row: RuleRow, detail: bool = False) -> dict[str, Any]:
        out = row.summary()
        if detail:
            out["source"] = row.source
            out["source_format"] = row.source_format
            out["disassembly"] = disassemble(self._program(row).program)
        return out

    def list_rules(self, tenant: str, page: int, per_page: int) -> dict[str, Any]:
        names, total = self.store.rule_names(tenant, page, per_page)
        items = []
        for name in names:
            versions = self.store.rule_versions(tenant, name)
            latest = max(versions, key=lambda r: _version_key(r.version))
            item = latest.summary()
            item["versions"] = [v.version for v in sorted(versions,
                                                          key=lambda r: _version_key(r.version))]
            items.append(item)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def rule(self, tenant: str, name: str) -> dict[str, Any]:
        versions = self.store.rule_versions(tenant, name)
        if not versions:
            raise NotFound(f"rule {name} not found")
        latest = max(versions, key=lambda r: _version_key(r.version))
        out = self.rule_version_view(latest)
        out["versions"] = [v.version for v in sorted(versions, key=lambda r: _version_key(r.version))]
        return out

    def rule_versions(self, tenant: str, name: str) -> dict[str, Any]:
        versions = sorted(self.store.rule_versions(tenant, name), key=lambda r: _version_key(r.version))
        if not versions:
            raise NotFound(f"rule {name} not found")
        items = [v.summary() for v in versions]
        return {"items": items, "page": 1, "per_page": len(items), "total": len(items)}

    def rule_version(self, tenant: str, name: str, version: str) -> dict[str, Any]:
        row = self.store.get_rule(tenant, name, version)
        assert row is not None
        return self.rule_version_view(row, detail=True)

    # ------------------------------------------------------------ reference tables
    def deploy_table(self, tenant: str, text: str, actor: Actor = SYSTEM_ACTOR
                     ) -> tuple[dict[str, Any], bool]:
        table, diags = parse_table(text, "request")
        if table is None:
            raise CompileError(diags, text)
        stored, created = self.store.put_table(
            tenant, name=table.name, version=table.version, kind=table.kind, source=text,
            source_hash=_content_hash(text), content_hash=table.content_hash,
            audit=self.audit_event(tenant, "table.deploy", f"table:{table.name}@"
                                   f"{table.version}", actor=actor,
                                   details={"content_hash": table.content_hash,
                                            "status": self._new_status}),
            status=self._new_status, deployed_by=actor.subject)
        self._tables_checked.pop(tenant, None)
        return _table_view(stored), created

    def table(self, tenant: str, name: str) -> dict[str, Any]:
        versions = [t for t in self.store.all_tables(tenant) if t["name"] == name]
        if not versions:
            raise NotFound(f"table {name} not found")
        out = _table_view(versions[-1])
        out["versions"] = [t["version"] for t in versions]
        out["source"] = versions[-1]["source"]
        return out

    def list_tables(self, tenant: str) -> dict[str, Any]:
        latest: dict[str, dict[str, Any]] = {}
        for t in self.store.all_tables(tenant):
            latest[t["name"]] = t
        items = [_table_view(t) for t in latest.values()]
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    def _current_tables(self, tenant: str) -> TableSet:
        """The latest version of every table of the tenant (refreshed like the rules)."""
        now = time.monotonic()
        generation, tables = self._tables.get(tenant, ((-1, -1), TableSet()))
        if now - self._tables_checked.get(tenant, -1e9) > RULES_REFRESH_SECONDS:
            self._tables_checked[tenant] = now
            current = self.store.tables_generation(tenant)
            if current != generation:
                latest: dict[str, dict[str, Any]] = {}
                for row in self.store.all_tables(tenant):
                    if row["status"] == "active":
                        latest[row["name"]] = row
                tables = _table_set(latest.values())
                self._tables[tenant] = (current, tables)
        return tables

    # ------------------------------------------------------------ rulesets
    def deploy_ruleset(self, tenant: str, text: str, actor: Actor = SYSTEM_ACTOR
                       ) -> tuple[dict[str, Any], bool]:
        spec = parse_ruleset(text)
        for entry in spec["rules"]:
            versions = [r.version for r in self.store.rule_versions(tenant, entry["ref"])]
            if not versions:
                if entry["required"]:
                    raise _ruleset_error(f"required rule {entry['ref']!r} is not deployed", text)
                continue
            if _max_satisfying(versions, entry["version"]) is None:
                raise _ruleset_error(f"no deployed version of {entry['ref']!r} satisfies "
                                     f"{entry['version']!r} (deployed: {', '.join(versions)})",
                                     text)
        meta = spec["metadata"]
        stored, created = self.store.put_ruleset(
            tenant, name=meta["name"], version=meta["version"], source=text,
            source_hash=_content_hash(text), spec=spec,
            audit=self.audit_event(tenant, "ruleset.deploy",
                                   f"ruleset:{meta['name']}@{meta['version']}", actor=actor,
                                   details={"source_hash": _content_hash(text),
                                            "status": self._new_status}),
            status=self._new_status, deployed_by=actor.subject)
        return _ruleset_view(stored), created

    def ruleset(self, tenant: str, name: str) -> dict[str, Any]:
        versions = self.store.ruleset_versions(tenant, name)
        if not versions:
            raise NotFound(f"ruleset {name} not found")
        latest = max(versions, key=lambda r: _version_key(r["version"]))
        out = _ruleset_view(latest)
        out["versions"] = [v["version"] for v in versions]
        return out

    def list_rulesets(self, tenant: str) -> dict[str, Any]:
        items = [self.ruleset(tenant, n) for n in self.store.ruleset_names(tenant)]
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    # ------------------------------------------------------------ selection
    def _select(self, tenant: str, ctx: dict[str, Any]
                ) -> tuple[list[CompiledRule], str, dict[str, Any] | None, dict[str, tuple[str, ...]]]:
        ref = ctx.get("ruleset")
        if ref:
            return self._select_ruleset(tenant, str(ref))
        on: date = ctx["timestamp"].date()
        by_name: dict[str, list[RuleRow]] = {}
        for row in self._all_rules(tenant):
            if row.active:  # pending or rejected versions never decide
                by_name.setdefault(row.name, []).append(row)
        chosen = []
        for rows in by_name.values():
            in_force = [r for r in rows if _in_force(r, on)]
            if in_force:
                chosen.append(max(in_force, key=lambda r: _version_key(r.version)))
        # a dependency not in force still has to be present for rule_result()
        names = {r.name for r in chosen}
        for r in list(chosen):
            for dep in self._program(r).metadata.get("depends_on", ()):
                if dep not in names and dep in by_name:
                    chosen.append(max(by_name[dep], key=lambda x: _version_key(x.version)))
                    names.add(dep)
        return [self._program(r) for r in chosen], "most_severe", None, {}

    def _select_ruleset(self, tenant: str, ref: str
                        ) -> tuple[list[CompiledRule], str, dict[str, Any], dict[str, tuple[str, ...]]]:
        name, _, rng = ref.partition("@")
        versions = [v["version"] for v in self.store.ruleset_versions(tenant, name)
                    if v["status"] == "active"]
        if not versions:
            raise InputError(f"context.ruleset: no ruleset named {name!r} (or none approved)")
        chosen = _max_satisfying(versions, rng or "*")
        if chosen is None:
            raise InputError(f"context.ruleset: no version of {name!r} satisfies {rng!r}")
        spec = self.store.get_ruleset(tenant, name, chosen)
        assert spec is not None
        rules = []
        for entry in spec["spec"]["rules"]:
            rows = [r for r in self.store.rule_versions(tenant, entry["ref"]) if r.active]
            version = _max_satisfying([r.version for r in rows], entry["version"])
            if version is None:
                if entry["required"]:
                    raise InputError(f"ruleset {name}@{chosen}: required rule {entry['ref']} "
                                     f"has no version satisfying {entry['version']}")
                continue
            rules.append(self._program(next(r for r in rows if r.version == version)))
        strategy = spec["spec"].get("aggregate_decision", {}).get("strategy", "most_severe")
        present = {r.name for r in rules}
        order = {e["ref"]: tuple(d for d in e["depends_on"] if d in present)
                 for e in spec["spec"]["rules"] if e["ref"] in present}
        return rules, strategy, {"name": name, "version": chosen}, order

    def _all_rules(self, tenant: str) -> list[RuleRow]:
        """Every rule version of the tenant. A deploy here is seen at once; a deploy through
        another process is seen within RULES_REFRESH_SECONDS (the store is asked whether
        rules changed)."""
        now = time.monotonic()
        generation, rows = self._rows.get(tenant, ((-1, -1), []))
        if now - self._rows_checked.get(tenant, -1e9) > RULES_REFRESH_SECONDS:
            self._rows_checked[tenant] = now
            current = self.store.rules_generation(tenant)
            if current != generation:
                rows = self.store.all_rules(tenant)
                self._rows[tenant] = (current, rows)
        return rows

    def _ruleset_for(self, tenant: str, rules: list[CompiledRule], strategy: str,
                     tables: TableSet | None = None,
                     order: dict[str, tuple[str, ...]] | None = None) -> RuleSet:
        tables = tables if tables is not None else self._current_tables(tenant)
        order = order or {}
        key = (strategy, tuple(sorted(t.content_hash for t in tables.tables.values())),
               tuple(sorted(order.items()))) + tuple(sorted(r.bytecode_hash for r in rules))
        with self._lock:
            rs = self._rulesets.get(key)
            if rs is not None:
                self._rulesets.move_to_end(key)
                return rs
        rs = RuleSet(rules, tables, strategy=strategy, order_after=order)
        with self._lock:
            self._rulesets[key] = rs
            while len(self._rulesets) > 256:
                self._rulesets.popitem(last=False)
        return rs

    # ------------------------------------------------------------ evaluation
    def _evaluate_records(self, tenant: str, context: dict[str, Any], inputs: list[Any],
                          trace: str, received: datetime) -> list[dict[str, Any] | InputError]:
        """Evaluate inputs under one context: select the rules once, run every input (in
        process, or in one call to the remote RTVM), and build each record with its proof.
        A rejected input is its InputError in the list."""
        level = "full" if trace == "full" else "basic"
        try:
            ctx = normalize_context(context, received)
            with OBS.span("rule_selection", {"arka.tenant": tenant}) as sp:
                rules, strategy, ruleset, order = self._select(tenant, ctx)
                if sp is not None:
                    sp.set_attribute("arka.rules", [f"{r.name}@{r.version}" for r in rules])
        except InputError as exc:
            return [exc] * len(inputs)
        results: list[EvaluationResult | InputError] = [
            InputError("input must be a JSON object of named inputs")] * len(inputs)
        todo = [i for i, inp in enumerate(inputs) if isinstance(inp, dict)]
        with OBS.span("evaluate"):
            if self.rtvm is not None and todo:
                remote = self.rtvm.evaluate(Group(
                    rules, self._current_tables(tenant), strategy, order,
                    [Item(inputs[i], ctx, level) for i in todo]))
                for i, res in zip(todo, remote, strict=True):
                    results[i] = res
            elif todo:
                rs = self._ruleset_for(tenant, rules, strategy, order=order)
                for i in todo:
                    try:
                        results[i] = rs.evaluate(inputs[i], ctx, trace=level)
                    except InputError as exc:
                        results[i] = exc
        return [res if isinstance(res, InputError) else
                self._record(tenant, res, ctx, inputs[i], trace, strategy, ruleset, order)
                for i, res in enumerate(results)]

    def _record(self, tenant: str, res: EvaluationResult, ctx: dict[str, Any], input: Any,
                trace: str, strategy: str, ruleset: dict[str, Any] | None,
                order: dict[str, tuple[str, ...]]) -> dict[str, Any]:
        out = res.to_json()
        evaluation_id = "eval_" + uuid.uuid4().hex
        meta = out["metadata"]
        meta["strategy"] = strategy
        if ruleset is not None:
            meta["ruleset"] = ruleset
        if order:
            meta["order_after"] = {k: list(v) for k, v in sorted(order.items()) if v}
        stored_input = V.to_json(V.from_json(input))
        record = {
            "evaluation_id": evaluation_id,
            "timestamp": _rfc3339(ctx["timestamp"]),
            "context": out["context"],
            "input": stored_input,
            "result": out["result"],
            "rule_results": out["rule_results"],
            "metadata": meta,
            # always the basic trace, the one trace_hash covers; a full trace beside it
            "trace": basic_trace(out.get("trace")),
        }
        if trace == "full":
            record["full_trace"] = out.get("trace", [])
            if self.objects is not None:  # kept beside the record, not in it
                record["full_trace_ref"] = self._put_object(
                    f"traces/{tenant}/{evaluation_id}.json", f"{evaluation_id}/trace",
                    json.dumps(record["full_trace"], sort_keys=True, ensure_ascii=False))
        M.PROOFS_GENERATED.inc()
        with OBS.span("proof", {"arka.evaluation_id": evaluation_id}):
            record["trust_proof"] = build_proof(
                evaluation_id=evaluation_id, timestamp=record["timestamp"], input=stored_input,
                context=record["context"], metadata=meta, result=record["result"],
                trace=record["trace"], engine_version=ENGINE_VERSION, ring=self.keys)
        return record

    def evaluate(self, tenant: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """One evaluation, stored with its proof. Returns (record, created)."""
        started = time.perf_counter()
        try:
            record, created = self._evaluate(tenant, body)
        except InputError:
            M.EVALUATION_ERRORS.labels("input").inc()
            raise
        if created:
            _count(record)
            M.EVALUATION_DURATION.observe(time.perf_counter() - started)
        return record, created

    def _evaluate(self, tenant: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        context, input, options = _request_parts(body)
        key = options.get("idempotency_key")
        request_hash = digest(V.to_json(V.from_json({"context": context, "input": input}))) \
            if key is not None else None
        trace = str(options.get("trace", "none"))
        if key is None:
            return self._evaluate_new(tenant, context, input, trace, None, None)
        key = str(key)
        known = self.idempotency.recall(tenant, key)
        if known is not None and known["request_hash"] == request_hash:
            # a hint: the database decides (a restored or other database may not have it)
            with contextlib.suppress(NotFound):
                return self.store.get_evaluation(tenant, known["evaluation_id"]), False
        with self.idempotency.claim(tenant, key):  # the same key, concurrently: once
            prior = self.store.find_idempotent(tenant, key, request_hash)
            if prior is None:
                prior, created = self._evaluate_new(tenant, context, input, trace, key,
                                                    request_hash)
            else:
                created = False
            self.idempotency.remember(tenant, key, request_hash, prior["evaluation_id"])
            return prior, created

    def _evaluate_new(self, tenant: str, context: dict[str, Any], input: Any, trace: str,
                      key: str | None, request_hash: str | None
                      ) -> tuple[dict[str, Any], bool]:
        (record,) = self._evaluate_records(tenant, context, [input], trace, datetime.now(UTC))
        if isinstance(record, InputError):
            raise record
        with OBS.span("store"):
            return self._store(tenant, record, key, request_hash)

    def _store(self, tenant: str, record: dict[str, Any], key: Any, request_hash: str | None
               ) -> tuple[dict[str, Any], bool]:
        full = record.pop("full_trace") if "full_trace_ref" in record else None
        stored, created = self._store_record(tenant, record, key, request_hash)
        if full is not None and created:  # the answer still carries the full trace
            stored["full_trace"] = full
        return stored, created

    def _store_record(self, tenant: str, record: dict[str, Any], key: Any,
                      request_hash: str | None) -> tuple[dict[str, Any], bool]:
        if key is None:  # group commit with concurrent requests
            self.store.append_evaluation(tenant, record, _leaf(record))
            return record, True
        return self.store.put_evaluation(tenant, record, leaf_hash=_leaf(record), idempotency_key=key,
                                         request_hash=request_hash)

    def evaluate_batch(self, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
        context = body.get("context") or {}
        inputs = body.get("inputs")
        options = body.get("options") or {}
        if not isinstance(context, dict) or not isinstance(options, dict):
            raise InputError("context and options must be objects")
        if not isinstance(inputs, list) or not inputs:
            raise InputError("inputs must be a non-empty list of {id, input}")
        if len(inputs) > self.settings.max_batch:
            raise InputError(f"a batch holds at most {self.settings.max_batch} inputs")
        unknown = sorted(set(options) - {"trace"})
        if unknown:
            raise InputError(f"unknown batch option {unknown[0]!r}; use trace")
        received = datetime.now(UTC)
        well_formed = [i for i, item in enumerate(inputs)
                       if isinstance(item, dict) and "input" in item]
        done = dict(zip(well_formed, self._evaluate_records(
            tenant, context, [inputs[i]["input"] for i in well_formed],
            str(options.get("trace", "none")), received), strict=True))
        items = []
        records = []
        for i, item in enumerate(inputs):
            item_id = item.get("id") if isinstance(item, dict) else None
            outcome = done.get(i, InputError(f"inputs[{i}] must be an object with an input"))
            if isinstance(outcome, InputError):
                items.append({"id": item_id, "status": 400, "error": {
                    "code": "VALIDATION_ERROR", "message": outcome.message}})
            else:
                records.append(outcome)
                items.append({"id": item_id, "status": 201, "evaluation": outcome})
        # all stored with their log leaves, in one transaction, before answering
        full = [r.pop("full_trace") if "full_trace_ref" in r else None for r in records]
        self.store.put_evaluations([tenant] * len(records), records,
                                   [_leaf(r) for r in records])
        for r, f in zip(records, full, strict=True):
            if f is not None:
                r["full_trace"] = f
        for r in records:
            _count(r)
        if len(records) < len(items):
            M.EVALUATION_ERRORS.labels("input").inc(len(items) - len(records))
        ok = len(records)
        return {"items": items, "succeeded": ok, "failed": len(items) - ok}

    def replay(self, tenant: str, evaluation_id: str, trace: str = "basic") -> dict[str, Any]:
        """Re-run a stored evaluation with its recorded rule and table versions."""
        record = self.store.get_evaluation(tenant, evaluation_id)
        meta = record["metadata"]
        rules = []
        for ref in meta.get("rules", []):
            row = self.store.get_rule(tenant, ref["rule_id"], ref["version"])
            assert row is not None
            if row.bytecode_hash != ref["bytecode_hash"]:
                raise Conflict(f"rule {ref['rule_id']}@{ref['version']} no longer has the "
                               "bytecode the evaluation used")
            rules.append(self._program(row))
        used = []
        for ref in meta.get("tables", []):
            table_row = self.store.get_table(tenant, ref["table"], ref["version"])
            assert table_row is not None
            if table_row["content_hash"] != ref["content_hash"]:
                raise Conflict(f"table {ref['table']}@{ref['version']} no longer has the content "
                               "the evaluation used")
            used.append(table_row)
        order = {k: tuple(v) for k, v in meta.get("order_after", {}).items()}
        strategy = meta.get("strategy", "most_severe")
        executor = "interpreter" if trace == "full" else "vm"
        if self.rtvm is not None:
            (res,) = self.rtvm.evaluate(Group(rules, _table_set(used), strategy, order, [
                Item(record["input"], normalize_context(record["context"]), trace,
                     executor)]))
            if isinstance(res, InputError):
                raise res
        else:
            rs = self._ruleset_for(tenant, rules, strategy, _table_set(used), order)
            res = rs.evaluate(record["input"], record["context"], trace=trace,
                              executor=executor)
        replay_hash = digest(res.result)
        original = record["trust_proof"]["output_hash"]
        out = {"evaluation_id": evaluation_id, "original_output_hash": original,
               "replay_output_hash": replay_hash, "match": replay_hash == original,
               "result": res.result}
        if trace == "full":
            out["rule_results"] = res.rule_results
            out["trace"] = res.trace
        return out

    # ------------------------------------------------------------ object storage
    def _objects(self) -> Objects:
        if self.objects is None:
            raise ServiceUnavailable("object storage is not configured; set storage.objects "
                                     "to s3://bucket/prefix or a directory")
        return self.objects

    def _put_object(self, key: str, aad: str, text: str) -> dict[str, Any]:
        """Store text (sealed with the record key when there is one); the reference the
        database keeps: where, the plaintext's SHA-256 and size, the key id."""
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        payload, key_id = text, None
        if self.store.cipher is not None:
            payload, key_id = self.store.cipher.seal(text, aad)
        uri = self._objects().put(key, payload.encode("utf-8"))
        return {"uri": uri, "key": key, "sha256": sha, "bytes": len(text.encode("utf-8")),
                "key_id": key_id}

    def _get_object(self, ref: dict[str, Any], aad: str) -> str:
        data = self._objects().get(ref["key"]).decode("utf-8")
        if ref.get("key_id"):
            if self.store.cipher is None:
                raise ServiceUnavailable(f"{ref['key']} is encrypted with key {ref['key_id']}, "
                                         "but no encryption key is configured")
            data = self.store.cipher.open(data, ref["key_id"], aad)
        if hashlib.sha256(data.encode("utf-8")).hexdigest() != ref["sha256"]:
            raise ObjectMissing(f"{ref['key']} does not match the SHA-256 recorded for it "
                                "(altered or replaced)")
        return data

    def full_trace(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        record = self.store.get_evaluation(tenant, evaluation_id)
        if "full_trace" in record:
            trace = record["full_trace"]
        elif "full_trace_ref" in record:
            trace = json.loads(self._get_object(record["full_trace_ref"],
                                                f"{evaluation_id}/trace"))
        else:
            raise NotFound(f"evaluation {evaluation_id} has no full trace; evaluate with "
                           "options.trace = full to record one (or replay with the full "
                           "trace: arka-cli rtvm debug)")
        return {"evaluation_id": evaluation_id, "trace": trace}

    def create_export(self, tenant: str, filters: dict[str, Any], actor: Actor = SYSTEM_ACTOR
                      ) -> dict[str, Any]:
        """Every matching evaluation record of the tenant as JSON lines in object storage,
        with a manifest (count, SHA-256). At most MAX_EXPORT records: narrow the range."""
        self._objects()
        export_id = "exp_" + uuid.uuid4().hex
        lines: list[str] = []
        page = 1
        while True:
            items, total = self.store.list_evaluations(
                tenant, decision=filters.get("decision"), rule_id=filters.get("rule_id"),
                start=filters.get("from"), end=filters.get("to"), page=page, per_page=100)
            if total > MAX_EXPORT:
                raise InputError(f"{total} evaluations match; an export holds at most "
                                 f"{MAX_EXPORT}: narrow from/to")
            lines.extend(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in items)
            if page * 100 >= total:
                break
            page += 1
        text = "".join(line + "\n" for line in lines)
        ref = self._put_object(f"exports/{tenant}/{export_id}.jsonl", export_id, text)
        manifest = {"export_id": export_id, "tenant": tenant, "created_at": now_rfc3339(),
                    "created_by": actor.subject, "filters": filters, "count": len(lines),
                    "sha256": ref["sha256"], "bytes": ref["bytes"], "uri": ref["uri"],
                    "key_id": ref["key_id"], "media_type": "application/x-ndjson"}
        self._objects().put(f"exports/{tenant}/{export_id}.json",
                            json.dumps(manifest, sort_keys=True).encode("utf-8"))
        self.audit(tenant, "export.create", f"export:{export_id}", actor=actor,
                   details={"count": len(lines), "sha256": ref["sha256"], "filters": filters})
        return manifest

    def export(self, tenant: str, export_id: str) -> dict[str, Any]:
        if not re.fullmatch(r"exp_[0-9a-f]{32}", export_id):
            raise NotFound(f"export {export_id} not found")
        try:
            return json.loads(self._objects().get(f"exports/{tenant}/{export_id}.json"))
        except ObjectMissing:
            raise NotFound(f"export {export_id} not found") from None

    def export_content(self, tenant: str, export_id: str) -> tuple[dict[str, Any], str]:
        manifest = self.export(tenant, export_id)
        ref = {"key": f"exports/{tenant}/{export_id}.jsonl", "sha256": manifest["sha256"],
               "key_id": manifest["key_id"]}
        return manifest, self._get_object(ref, export_id)

    # ------------------------------------------------------------ transparency log
    def sth(self) -> dict[str, Any]:
        """The signed tree head of the whole log; a new one when the log has grown."""
        size = self.store.log_size()
        head = self.store.latest_head()
        if head is not None and head["tree_size"] == size:
            return _head_view(head)
        root = self._root(size)
        unsigned = {"tree_size": size, "root_hash": root.hex(),
                    "timestamp": now_rfc3339(), "key_id": self.keys.active_id}
        head = dict(unsigned, signature=b64url(self.keys.active.sign(canonical(unsigned))))
        return _head_view(self.store.put_head(head))

    def _latest_head(self) -> dict[str, Any] | None:
        """The newest published head, re-read at most every HEAD_CACHE_SECONDS."""
        now = time.monotonic()
        cached_at, head = self._head_cache
        if head is None or now - cached_at > HEAD_CACHE_SECONDS:
            head = self.store.latest_head()
            self._head_cache = (now, head)
        return head

    def _root(self, size: int) -> bytes:
        if size == 0:
            return hashlib.sha256(b"").digest()
        nodes = self.store.log_nodes(set(merkle.decompose(0, size)))
        return merkle.range_hash(0, size, nodes)

    def inclusion(self, tenant: str, evaluation_id: str, tree_size: int | None
                  ) -> dict[str, Any]:
        self.store.get_evaluation(tenant, evaluation_id)  # NotFound outside the tenant
        index, leaf = self.store.log_leaf(evaluation_id)
        if tree_size is None:  # the latest published head, or a new one if it lacks the leaf
            head = self._latest_head()
            if head is None or head["tree_size"] <= index:
                head = self.sth()
        else:
            head = self.store.get_head(tree_size)
        if head is None:
            raise NotFound(f"no signed tree head for tree size {tree_size}; use the size of a "
                           "published head (GET /api/v1/log/sth)")
        size = int(head["tree_size"])
        if index >= size:
            raise NotFound(f"evaluation {evaluation_id} (leaf {index}) is not in the tree of "
                           f"size {size} yet")
        ranges = merkle.inclusion_ranges(index, size)
        nodes = self.store.log_nodes(merkle.needed_nodes(ranges))
        path = [merkle.range_hash(a, b, nodes).hex() for a, b in ranges]
        return {"evaluation_id": evaluation_id, "leaf_index": index, "tree_size": size,
                "leaf_hash": leaf.hex(), "audit_path": path, "sth": _head_view(head)}

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        size = self.store.log_size()
        if not 0 < first <= second <= size:
            raise InputError(f"consistency needs 0 < first <= second <= {size} (the log size)")
        ranges = merkle.consistency_ranges(first, second)
        nodes = self.store.log_nodes(merkle.needed_nodes(ranges))
        return {"first": first, "second": second,
                "consistency_path": [merkle.range_hash(a, b, nodes).hex() for a, b in ranges]}

    # ------------------------------------------------------------ anchors
    def evaluation(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        """A stored record, with the confirmed anchors that cover it (one per chain)."""
        record = self.store.get_evaluation(tenant, evaluation_id)
        if "log_index" in record:
            record["anchors"] = [anchor_view(a) for a in
                                 self.store.covering_anchors(int(record["log_index"]))]
        return record

    def anchors(self, page: int, per_page: int, chain: str | None, status: str | None
                ) -> dict[str, Any]:
        items, total = self.store.list_anchors(page, per_page, chain, status)
        chains = []
        for c in self.settings.chains:
            state = dict(self.anchoring.status.get(c.name, {})) if self.anchoring else {}
            chains.append({"chain": c.name, "confirmation_blocks": c.confirmation_blocks,
                           "contract_address": c.contract_address,
                           "healthy": state.get("healthy"), "last_error": state.get("last_error")})
        return {"items": [anchor_view(a) for a in items], "page": page, "per_page": per_page,
                "total": total, "chains": chains}

    def anchor(self, anchor_id: int) -> dict[str, Any]:
        return anchor_view(self.store.get_anchor(anchor_id))

    def verify(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        record = self.store.get_evaluation(tenant, evaluation_id)
        out = verify_record(record, self.keys.public_keys()).to_json()
        out["evaluation_id"] = evaluation_id
        return out


def _key_view(row: dict[str, Any]) -> dict[str, Any]:
    def t(v: datetime | None) -> str | None:
        return _rfc3339(v) if v is not None else None
    return {"id": row["id"], "tenant": row["tenant"], "name": row["name"],
            "roles": list(row["roles"]), "prefix": f"arka_{row['id']}_",
            "created_at": t(row["created_at"]), "created_by": row["created_by"],
            "expires_at": t(row["expires_at"]), "revoked_at": t(row["revoked_at"]),
            "last_used_at": t(row["last_used_at"])}


def _count(record: dict[str, Any]) -> None:
    M.EVALUATIONS.labels(record["result"]["decision"]).inc()
    statuses = [r["status"] for r in record["rule_results"]]
    for status in statuses:
        if status != "skipped":
            M.RTVM_EXECUTIONS.labels(status).inc()
    if "error" in statuses:
        M.EVALUATION_ERRORS.labels("rule").inc()


def _leaf(record: dict[str, Any]) -> bytes:
    """The record's log leaf: RFC 9162 leaf hash of its proof's canonical bytes."""
    return merkle.leaf_hash(canonical(record["trust_proof"]))


def _head_view(head: dict[str, Any]) -> dict[str, Any]:
    return {k: head[k] for k in ("tree_size", "root_hash", "timestamp", "key_id", "signature")}


def _request_parts(body: dict[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    unknown = sorted(set(body) - {"context", "input", "options"})
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r} in the request; use context, input, "
                         "options")
    context = body.get("context") or {}
    options = body.get("options") or {}
    if not isinstance(context, dict):
        raise InputError("context must be an object")
    if not isinstance(options, dict):
        raise InputError("options must be an object")
    bad = sorted(set(options) - {"trace", "idempotency_key"})
    if bad:
        raise InputError(f"unknown option {bad[0]!r}; use trace, idempotency_key")
    if options.get("trace", "none") not in ("none", "basic", "full"):
        raise InputError("options.trace must be none, basic or full")
    key = options.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 256):
        raise InputError("options.idempotency_key must be text of 1 to 256 characters")
    if "input" not in body:
        raise InputError("the request needs an input object")
    return context, body["input"], options


def _version_key(version: str) -> tuple[int, int, int, int, str]:
    core, _, pre = version.partition("-")
    major, minor, patch = (int(p) for p in core.split("+")[0].split("."))
    return major, minor, patch, 0 if pre else 1, pre


def _max_satisfying(versions: list[str], rng: str) -> str | None:
    try:
        return nodesemver.max_satisfying(versions, rng, loose=False)
    except (ValueError, TypeError):
        return None


def _in_force(row: RuleRow, on: date) -> bool:
    if row.effective_date and on < date.fromisoformat(row.effective_date):
        return False
    return not (row.expiry_date and on >= date.fromisoformat(row.expiry_date))


REVIEW_KEYS = ("status", "deployed_by", "reviewed_by", "reviewed_at", "review_note")


def _table_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: stored[k] for k in ("name", "version", "kind", "content_hash", *REVIEW_KEYS)}


def _table_set(rows: Any) -> TableSet:
    out = TableSet()
    for row in rows:
        table, diags = parse_table(row["source"], f"table {row['name']}@{row['version']}")
        if table is None:
            raise RuntimeError(f"stored table {row['name']}@{row['version']} does not parse: "
                               f"{diags[0].message if diags else ''}")
        out.tables[table.name] = table
        out.sources[table.name] = row["source"]
    return out


def _ruleset_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {"name": stored["name"], "version": stored["version"], **{
        k: stored["spec"][k] for k in ("metadata", "rules", "evaluation_order",
                                       "aggregate_decision")},
        **{k: stored[k] for k in REVIEW_KEYS}}


def _ruleset_error(message: str, text: str) -> CompileError:
    return CompileError([Diagnostic("E_RULESET", Span("request", 1, 1), message)], text)


def parse_ruleset(text: str) -> dict[str, Any]:
    """A `ruleset:` document (SPEC §4), validated: names, semver ranges, dependency DAG."""
    try:
        doc = load_document(text, "request")
    except SourceFault as fault:
        raise CompileError([fault.diagnostic], text) from None
    diags: list[Diagnostic] = []

    def err(loc_span: Span, msg: str, code: str = "E_RULESET") -> None:
        diags.append(Diagnostic(code, loc_span, msg))

    top = doc.value
    if not isinstance(top, dict) or "ruleset" not in top or not isinstance(top["ruleset"].value, dict):
        raise CompileError([Diagnostic("E_RULESET", doc.span, "a ruleset document needs a "
                                       "top-level 'ruleset' mapping")], text)
    body = top["ruleset"].value
    for k, loc in body.items():
        if k not in RULESET_KEYS:
            err(loc.key_span or loc.span, f"unknown key {k!r} in ruleset", "E_UNKNOWN_KEY")
    meta_loc = body.get("metadata")
    meta = meta_loc.plain() if meta_loc is not None else None
    if meta_loc is None or not isinstance(meta, dict):
        err(top["ruleset"].span, "ruleset needs a metadata mapping", "E_MISSING_KEY")
        raise CompileError(diags, text)
    name, version = str(meta.get("name", "")), meta.get("version")
    if not NAME_RE.match(name):
        err(meta_loc.span, f"ruleset name {name!r} must be [a-z0-9-]+", "E_NAME")
    if not isinstance(version, str) or not SEMVER_RE.match(version):
        err(meta_loc.span, f"ruleset version {version!r} is not semver", "E_VERSION")
    rules_loc = body.get("rules")
    entries: list[dict[str, Any]] = []
    if rules_loc is None or not isinstance(rules_loc.value, list) or not rules_loc.value:
        err(top["ruleset"].span, "ruleset needs a non-empty rules list", "E_MISSING_KEY")
    else:
        for item in rules_loc.value:
            m = item.plain()
            if not isinstance(m, dict) or not isinstance(m.get("ref"), str):
                err(item.span, "each ruleset entry needs ref (a rule name)")
                continue
            extra = sorted(set(m) - {"ref", "version", "required", "depends_on"})
            if extra:
                err(item.span, f"unknown key {extra[0]!r} in a ruleset entry", "E_UNKNOWN_KEY")
            rng = str(m.get("version", "*"))
            if not _safe_range(rng):
                err(item.span, f"version range {rng!r} is not an npm semver range")
            deps = m.get("depends_on") or []
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                err(item.span, "depends_on must list rule names")
                deps = []
            entries.append({"ref": m["ref"], "version": rng,
                            "required": bool(m.get("required", True)), "depends_on": deps})
    refs = [e["ref"] for e in entries]
    if len(set(refs)) != len(refs):
        err(rules_loc.span if rules_loc else doc.span, "a rule appears twice in the ruleset")
    for e in entries:
        for d in e["depends_on"]:
            if d not in refs:
                err(rules_loc.span if rules_loc else doc.span,
                    f"{e['ref']} depends on {d!r}, which is not in the ruleset", "E_DEPENDENCY")
    cycle = _find_cycle({e["ref"]: e["depends_on"] for e in entries})
    if cycle:
        err(rules_loc.span if rules_loc else doc.span,
            f"rules depend on each other: {' -> '.join(cycle)}", "E_DEPENDENCY_CYCLE")
    order = body["evaluation_order"].value if "evaluation_order" in body else "dependency"
    if order != "dependency":
        err(body["evaluation_order"].span, "evaluation_order must be dependency")
    agg = body["aggregate_decision"].plain() if "aggregate_decision" in body else {}
    strategy = agg.get("strategy", "most_severe") if isinstance(agg, dict) else None
    if strategy not in STRATEGIES:
        err(body["aggregate_decision"].span, f"aggregate_decision.strategy must be one of "
            f"{', '.join(STRATEGIES)}")
    if diags:
        raise CompileError(diags, text)
    return {"metadata": json.loads(json.dumps(V.to_json(V.from_json(meta)))), "rules": entries,
            "evaluation_order": "dependency", "aggregate_decision": {"strategy": strategy}}


def _safe_range(rng: str) -> bool:
    try:
        nodesemver.make_range(rng, loose=False)
        return True
    except (ValueError, TypeError):
        return False


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> list[str] | None:
        state[n] = 1
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m, path + [m])
                if found:
                    return found
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n, [n])
            if found:
                return found
    return None
