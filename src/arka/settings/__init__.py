"""ARKA Core's settings: one typed, immutable object built once at start-up.

Sources, in order: the embedded defaults (a data directory with the SQLite file, signing
keys and objects), a configuration file (`arka.settings.file`, the `config/production.yaml`
layout) when one is named, the `blockchain:` block (`arka.settings.blockchain`), and the
environment for secrets (`ARKA_SIGNING_KEY`, `ARKA_JWT_SECRET`, `ARKA_ENCRYPTION_KEY`, ...).
`load()` is the one builder: `arka-cli serve` and every operator command call it, and
`arka-cli serve --workers N` hands the result to its worker processes whole (`to_env` /
`from_env`) instead of having each of them read the sources again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import pickle
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arka.base.errors import ArkaError
from arka.delivery import DeliveryPolicy, SmtpSettings
from arka.security.auth import AuthSettings
from arka.security.crypto import RecordCipher
from arka.security.ratelimit import RateLimitSettings
from arka.settings.cases import CasePolicy
from arka.settings.file import Config, masked
from arka.settings.transparency import TransparencySettings, WitnessConfig
from arka.trust.chain import AnchorPolicy, ChainConfig

WORKER_ENV = "ARKA_WORKER_SETTINGS"


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
    write_timeout: float = 30.0  # a response the client does not read is aborted
    redis_url: str | None = None
    redis_max_connections: int = 50
    # AES-256-GCM key for stored records; None: the key directory's `encryption.key`
    # (made on first start), or no encryption when there is no key directory either
    encryption_key: str | None = field(default=None, repr=False)
    previous_encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    config_digest: str | None = None
    require_approval: bool = False  # new versions wait for a second person's approval
    strict_rules: bool = False  # rule warnings (W_ codes) refuse a deploy (rules.strict_validation)
    db_pool_size: int = 10  # per process: connections kept open
    db_max_overflow: int = 20  # per process: extra connections under load
    db_startup_timeout: float = 60.0  # `serve` waits this long for the database at start
    integrity_sample: int = 64  # readiness: newest log leaves checked (0: none)
    integrity_interval: float = 60.0  # readiness: seconds between integrity samples
    metrics_enabled: bool = True
    dashboard: bool = True  # the web dashboard at /ui/ (api.dashboard)
    metrics_port: int | None = None  # None: /metrics on the API port
    metrics_path: str = "/metrics"
    objects: str | None = None  # object storage (arka.storage.objects); None: none
    rtvm_host: str | None = None  # None: the RTVM runs in process
    rtvm_port: int = 8081
    rtvm_timeout: float = 30.0
    rtvm_max_concurrent: int = 1000
    plugins_host: str | None = None  # None: plugin calls run here (`plugins.host`)
    plugins_timeout: float = 10.0
    plugins_workers: int = 2  # worker processes per untrusted plugin
    plugins_isolate_all: bool = False
    plugin_settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # by plugin name
    cases: CasePolicy = CasePolicy()
    webhooks: DeliveryPolicy = DeliveryPolicy()
    smtp: SmtpSettings | None = None  # None: e-mail notifications fail (dead) with the reason
    transparency: TransparencySettings = TransparencySettings()
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
        from arka.settings.file import encryption_keys, jwt_secret, strict_rules
        url = database_url or os.environ.get("ARKA_DATABASE_URL")
        if url is None:  # the embedded SQLite file lives in the data directory
            data_dir.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{(data_dir / 'pact.db').resolve()}"
        current, previous = encryption_keys(os.environ)
        environment = os.environ.get("ARKA_ENVIRONMENT", "development").lower()
        return cls(url, data_dir / "keys", os.environ.get("ARKA_SIGNING_KEY"),
                   objects=os.environ.get("ARKA_OBJECTS") or str(data_dir / "objects"),
                   environment=environment,
                   strict_rules=strict_rules(os.environ, None, environment),
                   log_level=os.environ.get("ARKA_LOG_LEVEL", "info").lower(),
                   log_format=os.environ.get("ARKA_LOG_FORMAT", "text").lower(),
                   auth=AuthSettings(jwt_secret=jwt_secret(os.environ)),
                   redis_url=os.environ.get("ARKA_REDIS_URL") or None,
                   plugins_host=os.environ.get("ARKA_PLUGIN_HOST") or None,
                   encryption_key=current, previous_encryption_keys=tuple(previous))

    @classmethod
    def from_config(cls, config: Config, env: Mapping[str, str] | None = None,
                    database_url: str | None = None) -> Settings:
        """Settings from a validated configuration file (`arka.settings.file`)."""
        from arka.settings.blockchain import parse_blockchain
        from arka.settings.file import encryption_keys, jwt_secret, strict_rules
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
                                       "Retry-After", "X-Checkpoint-Witnessed",
                                       "X-Content-SHA256"]}
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
                a.rate_limiting.tenant_burst, a.rate_limiting.on_redis_error),
            db_startup_timeout=config.database.startup_timeout,
            cors=cors, dashboard=a.dashboard, read_timeout=a.read_timeout,
            write_timeout=a.write_timeout,
            redis_url=config.redis.client_url(),
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
            strict_rules=strict_rules(env, config.rules.strict_validation,
                                      config.environment),
            db_pool_size=config.database.min_connections,
            db_max_overflow=max(config.database.max_connections
                                - config.database.min_connections, 0),
            integrity_sample=config.database.integrity_sample,
            integrity_interval=config.database.integrity_interval,
            rtvm_host=config.rtvm.host, rtvm_port=config.rtvm.port,
            rtvm_timeout=config.rtvm.timeout, rtvm_max_concurrent=config.rtvm.max_concurrent,
            plugins_host=env.get("ARKA_PLUGIN_HOST") or config.plugins.host,
            plugins_timeout=config.plugins.timeout, plugins_workers=config.plugins.workers,
            plugins_isolate_all=config.plugins.isolate_all,
            plugin_settings=config.plugins.plugin_settings(),
            cases=_cases(config), webhooks=_webhooks(config), smtp=_smtp(config, env),
            transparency=_transparency(config))

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

    def with_blockchain_file(self, path: str) -> Settings:
        """These settings with the chains of a `blockchain:` YAML file."""
        from arka.settings.blockchain import load_blockchain_file
        chains, policy, poll = load_blockchain_file(path)
        return dataclasses.replace(self, chains=tuple(chains), anchor_policy=policy,
                                   anchor_poll_seconds=poll)

    def without_auth(self) -> Settings:
        """Development only (`--no-auth`): every request is an admin of tenant default."""
        if self.environment == "production":
            raise ArkaError("--no-auth is refused when ARKA_ENVIRONMENT is production")
        return dataclasses.replace(self, auth=dataclasses.replace(self.auth, enabled=False))

    def to_env(self) -> str:
        """These settings as one environment value for worker processes (`from_env`)."""
        return base64.b64encode(pickle.dumps(self)).decode("ascii")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings | None:
        """The settings a parent process handed over with `to_env`, if any."""
        text = (os.environ if env is None else env).get(WORKER_ENV)
        if not text:
            return None
        settings = pickle.loads(base64.b64decode(text))  # noqa: S301 - our own parent's
        if not isinstance(settings, cls):
            raise ArkaError(f"{WORKER_ENV} does not hold ARKA settings")
        return settings


def load(data_dir: str | Path = ".arka", database_url: str | None = None,
         config_file: str | None = None, blockchain_file: str | None = None,
         env: Mapping[str, str] | None = None) -> Settings:
    """The settings: from the configuration file when one is named (or ARKA_CONFIG is
    set), else the embedded defaults in `data_dir`; then the blockchain file, if any.
    Raises ArkaError (ConfigError) naming what is wrong."""
    from arka.settings.file import load_config
    env = os.environ if env is None else env
    config_file = config_file or env.get("ARKA_CONFIG") or None
    if config_file:
        settings = Settings.from_config(load_config(config_file, env), env,
                                        database_url=database_url)
    else:
        settings = Settings.embedded(Path(data_dir), database_url)
    if blockchain_file:
        settings = settings.with_blockchain_file(blockchain_file)
    return settings


def record_cipher(settings: Settings) -> RecordCipher | None:
    """The record encryption key: configured, or the key directory's `encryption.key`
    (made on first start), or none when there is neither."""
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


def _cases(config: Config) -> CasePolicy:
    c = config.cases
    return CasePolicy(enabled=c.enabled, open_on=tuple(c.open_on),
                      rulesets={k: tuple(v.open_on) for k, v in c.rulesets.items()},
                      entity_paths=tuple(c.entity_paths), group_by=c.group_by,
                      default_queue=c.default_queue, default_priority=c.default_priority,
                      default_sla_hours=c.default_sla_hours, dispositions=tuple(c.dispositions),
                      approval_dispositions=tuple(c.approval_dispositions))


def _webhooks(config: Config) -> DeliveryPolicy:
    from arka.delivery.targets import parse_allowlist
    w = config.webhooks
    try:
        allow = parse_allowlist(w.allow_private)
    except ValueError as exc:
        raise ArkaError(f"webhooks.allow_private: {exc}") from None
    return DeliveryPolicy(allow_private=allow, timeout=w.timeout, max_attempts=w.max_attempts,
                          backoff_base=w.backoff_base, backoff_max=w.backoff_max,
                          circuit_failures=w.circuit_failures,
                          circuit_seconds=w.circuit_seconds, rotation_grace=w.rotation_grace,
                          source=w.source, poll_interval=w.poll_interval,
                          concurrency=w.concurrency)


def _transparency(config: Config) -> TransparencySettings:
    from arka.trust.note import NoteError
    t = config.transparency
    try:
        return TransparencySettings(
            origin=t.origin, witnesses=tuple(WitnessConfig(w.url, w.key) for w in t.witnesses),
            quorum=t.quorum, cosign_interval=t.cosign_interval,
            witness_timeout=t.witness_timeout).validate()
    except NoteError as exc:
        raise ArkaError(exc.message) from None


def _smtp(config: Config, env: Mapping[str, str]) -> SmtpSettings | None:
    s = config.notifications.smtp
    if s is None:
        return None
    return SmtpSettings(host=s.host, port=s.port, security=s.security, username=s.username,
                        password=env.get("ARKA_SMTP_PASSWORD") or None,
                        from_address=s.from_address, timeout=s.timeout, ca_file=s.ca_file)
