"""Service configuration: files in the layout of `config/production.yaml` (`docs/configuration.md`).

    environment, log_level, log_format
    api:           host, port, read_timeout, write_timeout, max_request_size,
                   cors {allowed_origins, allowed_methods, allowed_headers, ...},
                   rate_limiting {enabled, requests_per_minute, burst,
                                  on_redis_error},                           (ARKA addition)
                   auth {enabled, jwt_issuer, jwt_audience, jwks_url, ...}     (ARKA addition)
    database:      url | host, port, name, user, password, ssl_mode, max_connections, ...,
                   startup_timeout                                            (ARKA addition)
    redis:         url | host, port, password, database, max_connections
    rtvm:          host, port, timeout, max_concurrent
    blockchain:    see arka.settings.blockchain
    observability: metrics {enabled, port, path}, tracing {...}, logging {format, level, output}
    storage:       data_dir, objects                                          (ARKA addition)
    governance:    require_approval                                           (ARKA addition)
    rules:         strict_validation                                          (ARKA addition)
    plugins:       host, timeout, workers, isolate_all, and each plugin's settings
                   by name (e.g. sanctions {datasets})                        (ARKA addition)
    cases:         enabled, open_on, rulesets {name: {open_on}}, entity_paths, group_by,
                   default_queue, default_priority, default_sla_hours, dispositions,
                   approval_dispositions                                      (ARKA addition)
    webhooks:      allow_private, timeout, max_attempts, backoff_base, backoff_max,
                   circuit_failures, circuit_seconds, rotation_grace, source,
                   poll_interval, concurrency                                 (ARKA addition)
    notifications: smtp {host, port, security, username, from_address, timeout,
                   ca_file}; the password from ARKA_SMTP_PASSWORD             (ARKA addition)
    transparency:  origin, witnesses [{url, key}], quorum, cosign_interval,
                   witness_timeout                                            (ARKA addition)

`${VAR}` and `${VAR:-default}` are replaced from the environment before validation;
`ARKA_ENVIRONMENT`, `ARKA_LOG_LEVEL` and `ARKA_LOG_FORMAT` override the file. Durations
are `500ms`, `30s`, `5m`, `1h` or seconds; sizes `10MB` (MiB), `512KB`, or bytes. Unknown
keys and bad values are errors that name the key. Secrets never live in the file: the JWT
secret and the encryption key come from the environment (see `secrets_from_env`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from arka.base.boundary import BoundaryError, load_yaml
from arka.settings.blockchain import ConfigError, substitute

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}
_SIZES = {"b": 1, "kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3, "kib": 1024,
          "mib": 1024 ** 2, "gib": 1024 ** 3, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds, from `500ms`, `30s`, `5m`, `1h` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s")
    if isinstance(value, int | float):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration; write e.g. 500ms, 30s, 5m or 1h")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_size(value: Any) -> int:
    """Bytes, from `10MB` (MiB), `512KB`, `8GB` or a byte count."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 10MB")
    if isinstance(value, int):
        return value
    m = _SIZE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a size; write e.g. 10MB, 512KB or a byte count")
    unit = m.group(2).lower() if m.group(2) else None
    return int(m.group(1)) * _SIZES[unit]


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cors(_Model):
    allowed_origins: list[str] = []
    allowed_methods: list[str] = ["GET", "POST", "PUT", "DELETE"]
    allowed_headers: list[str] = ["Authorization", "Content-Type", "X-API-Key",
                                  "X-Request-ID"]
    allow_credentials: bool = False
    max_age: Duration = 600


class RateLimiting(_Model):
    enabled: bool = True
    requests_per_minute: Annotated[int, Field(gt=0)] = 1000
    burst: Annotated[int, Field(gt=0)] = 100
    tenant_requests_per_minute: Annotated[int, Field(gt=0)] | None = None
    tenant_burst: Annotated[int, Field(gt=0)] | None = None
    # while Redis is unreachable: local (per-process buckets), allow (no limit), deny (503)
    on_redis_error: Literal["local", "allow", "deny"] = "local"


class Auth(_Model):
    enabled: bool = True
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    jwks_cache: Duration = 300
    leeway: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = 30
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"


class Api(_Model):
    host: str = "127.0.0.1"
    port: Port = 8080
    read_timeout: Duration = 30
    write_timeout: Duration = 30
    max_request_size: Size = 10 * 1024 * 1024
    cors: Cors = Cors()
    dashboard: bool = True  # serve the web dashboard at /ui/
    rate_limiting: RateLimiting = RateLimiting()
    auth: Auth = Auth()


class Database(_Model):
    url: str | None = None
    host: str | None = None
    port: Port = 5432
    name: str = "pact"
    user: str | None = None
    password: str | None = None
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca",
                      "verify-full"] = "prefer"
    max_connections: Annotated[int, Field(gt=0)] = 30
    min_connections: Annotated[int, Field(ge=1)] = 10
    connection_timeout: Duration = 10
    # `arka-cli serve` waits this long for the database to answer before it gives up
    startup_timeout: Annotated[float, BeforeValidator(parse_duration), Field(ge=0)] = 60
    # readiness: newest log leaves checked against their evaluations, at most once per
    # interval (0: no sample)
    integrity_sample: Annotated[int, Field(ge=0, le=10_000)] = 64
    integrity_interval: Duration = 60

    def sqlalchemy_url(self) -> str | None:
        """The URL, or None for the embedded SQLite default (no url and no host)."""
        if self.url:
            return self.url
        if not self.host:
            return None
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":" + quote(self.password, safe="")
            auth += "@"
        return (f"postgresql+psycopg://{auth}{self.host}:{self.port}/{quote(self.name)}"
                f"?sslmode={self.ssl_mode}&connect_timeout={int(self.connection_timeout)}")


class Redis(_Model):
    url: str | None = None
    host: str | None = None
    port: Port = 6379
    password: str | None = None
    database: Annotated[int, Field(ge=0)] = 0
    max_connections: Annotated[int, Field(gt=0)] = 50

    def client_url(self) -> str | None:
        if self.url:
            return self.url
        if not self.host:
            return None
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.database}"


class Rtvm(_Model):
    host: str | None = None
    port: Port = 8081
    timeout: Duration = 30
    max_concurrent: Annotated[int, Field(gt=0)] = 1000


class Metrics(_Model):
    enabled: bool = True
    port: Port | None = None
    path: str = "/metrics"


class Tracing(_Model):
    enabled: bool = False
    exporter: Literal["jaeger", "otlp", "console"] = "otlp"
    endpoint: str | None = None
    sample_rate: Annotated[float, Field(ge=0, le=1)] = 0.1


class Logging(_Model):
    format: Literal["json", "text"] = "text"
    level: LogLevel = "info"
    output: Literal["stdout", "stderr"] = "stdout"


class Observability(_Model):
    metrics: Metrics = Metrics()
    tracing: Tracing = Tracing()
    logging: Logging = Logging()


class Storage(_Model):
    data_dir: str = ".arka"
    # full traces and exports: s3://bucket/prefix or a directory; unset: none (full traces
    # stay in the database record, exports are unavailable)
    objects: str | None = None


class Governance(_Model):
    require_approval: bool = False


class Rules(_Model):
    # warnings (W_ codes, e.g. a field read through an input no schema types) refuse a
    # rule deploy and validation; unset: on when the environment is production
    strict_validation: bool | None = None


class Plugins(BaseModel):
    """`plugins:`: where plugin calls run, and each plugin's own settings by its name
    (any other key, e.g. `sanctions: {datasets: [...]}`), handed to the plugin as is."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # host:port of a plugin host (`arka-cli plugin-host serve`); unset: calls run here,
    # trusted plugins in process and the others in worker processes
    host: str | None = None
    timeout: Duration = 10
    workers: Annotated[int, Field(gt=0, le=256)] = 2  # worker processes per untrusted plugin
    isolate_all: bool = False  # trusted plugins in worker processes too

    def plugin_settings(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, value in sorted((self.model_extra or {}).items()):
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
                raise ConfigError(f"plugins.{name}: not a plugin name (lowercase letters, "
                                  "digits and _)")
            if not isinstance(value, dict):
                raise ConfigError(f"plugins.{name}: a plugin's settings must be a mapping, "
                                  f"got {type(value).__name__}")
            out[name] = value
        return out


Token = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
OpenOn = Literal["escalation", "block", "flag:critical", "flag:high", "flag:medium",
                 "flag:low"]


class RulesetCases(_Model):
    open_on: list[OpenOn]


class Cases(_Model):
    enabled: bool = True
    open_on: list[OpenOn] = ["escalation"]
    rulesets: dict[str, RulesetCases] = {}
    entity_paths: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*"
                                                    r"(\.[A-Za-z_][A-Za-z0-9_]*)*$")]] = [
        "customer.id", "customer_id", "transaction.customer_id", "entity.id"]
    group_by: Literal["entity_queue", "entity", "none"] = "entity_queue"
    default_queue: Annotated[str, Field(min_length=1, max_length=128)] = "review"
    default_priority: Annotated[str, Field(min_length=1, max_length=32)] = "medium"
    default_sla_hours: Annotated[float, Field(gt=0)] = 72
    dispositions: Annotated[list[Token], Field(min_length=1)] = [
        "false_positive", "true_positive", "sar_filed", "no_action"]
    approval_dispositions: list[Token] = ["true_positive", "sar_filed"]


class Webhooks(_Model):
    # hosts or networks (CIDR) webhook URLs may name although they are private, loopback
    # or link-local (refused otherwise: SSRF); plain http is allowed only to these
    allow_private: list[str] = []
    timeout: Duration = 10
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base: Duration = 5
    backoff_max: Duration = 3600
    circuit_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    circuit_seconds: Duration = 60
    rotation_grace: Duration = 86400
    source: Annotated[str, Field(min_length=1, max_length=200)] = "/arka"
    poll_interval: Duration = 1
    concurrency: Annotated[int, Field(ge=1, le=256)] = 8


class Smtp(_Model):
    host: Annotated[str, Field(min_length=1, max_length=253)]
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    from_address: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] = "arka@localhost"
    timeout: Duration = 10
    ca_file: str | None = None


class Notifications(_Model):
    smtp: Smtp | None = None


class Witness(_Model):
    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
    key: Annotated[str, Field(min_length=1, max_length=1000)]  # its cosigner vkey (type 04)


class Transparency(_Model):
    origin: Annotated[str, Field(pattern=r"^[^\s+]+$", max_length=200)] = "arka.local/log"
    witnesses: list[Witness] = []
    quorum: Annotated[int | None, Field(ge=0)] = None  # default: every witness
    cosign_interval: Duration = 5
    witness_timeout: Duration = 10


class Config(_Model):
    environment: Literal["development", "test", "staging", "production"] = "development"
    log_level: LogLevel = "info"
    log_format: Literal["json", "text"] = "text"
    api: Api = Api()
    database: Database = Database()
    redis: Redis = Redis()
    rtvm: Rtvm = Rtvm()
    blockchain: dict[str, Any] = {}
    observability: Observability = Observability()
    storage: Storage = Storage()
    governance: Governance = Governance()
    rules: Rules = Rules()
    plugins: Plugins = Plugins()
    cases: Cases = Cases()
    webhooks: Webhooks = Webhooks()
    notifications: Notifications = Notifications()
    transparency: Transparency = Transparency()

    @property
    def production(self) -> bool:
        return self.environment == "production"


SECRET_KEYS = ("password",)
# keys of plugin settings (or anywhere) whose text is a credential
_SECRETISH = re.compile(r"(password|secret|token|api_?key|credential)", re.IGNORECASE)


def parse_config(doc: Any, env: Mapping[str, str] | None = None, source: str = "config"
                 ) -> Config:
    env = os.environ if env is None else env
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping of sections")
    doc = substitute(doc, env, "")
    for key, env_name in (("environment", "ARKA_ENVIRONMENT"), ("log_level", "ARKA_LOG_LEVEL"),
                          ("log_format", "ARKA_LOG_FORMAT")):
        if env.get(env_name):
            doc[key] = env[env_name].lower()
    try:
        config = Config.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {where}: {message}{more}") from None
    if config.blockchain:
        from arka.settings.blockchain import parse_blockchain
        parse_blockchain(config.blockchain, env)  # validated now, used by the service
    return config


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {p}: {exc.strerror}") from None
    try:  # within the input bounds: nesting, alias expansion (arka.base.boundary)
        doc = load_yaml(text, str(p))
    except BoundaryError as exc:
        where = f" line {exc.span.line}, column {exc.span.column}" if exc.span else ""
        raise ConfigError(f"{p}:{where} {exc.reason} ({exc.code})") from None
    return parse_config(doc, env, str(p))


def secret_from_env(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def jwt_secret(env: Mapping[str, str]) -> str | None:
    """`ARKA_JWT_SECRET`, or `jwt-secret` as the Kubernetes secret `arka-api-secrets` gives it."""
    return secret_from_env(env, "ARKA_JWT_SECRET", "jwt-secret", "JWT_SECRET")


def encryption_keys(env: Mapping[str, str]) -> tuple[str | None, list[str]]:
    """(current key, previous keys) from `ARKA_ENCRYPTION_KEY` (or `encryption-key`) and
    `ARKA_ENCRYPTION_KEYS_PREVIOUS` (comma-separated, for records written before a
    rotation)."""
    current = secret_from_env(env, "ARKA_ENCRYPTION_KEY", "encryption-key", "ENCRYPTION_KEY")
    previous = [k.strip() for k in env.get("ARKA_ENCRYPTION_KEYS_PREVIOUS", "").split(",")
                if k.strip()]
    return current, previous


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def strict_rules(env: Mapping[str, str], configured: bool | None, environment: str) -> bool:
    """Whether warnings refuse a rule: `ARKA_STRICT_RULES` when set, else the file's
    `rules.strict_validation` when set, else on exactly in production."""
    text = (env.get("ARKA_STRICT_RULES") or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text:
        raise ConfigError(f"ARKA_STRICT_RULES: {env['ARKA_STRICT_RULES']!r} is not a boolean; "
                          "write true or false")
    if configured is not None:
        return configured
    return environment == "production"


def masked(config: Config) -> dict[str, Any]:
    """The effective configuration as a mapping, secrets replaced by ***."""
    def walk(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and (key in SECRET_KEYS or key.endswith("private_key") or
                                       _SECRETISH.search(key)):
            return "***"
        if isinstance(value, str) and key == "url":
            return re.sub(r"//([^:/@]*):([^@]*)@", r"//\1:***@", value)
        return value
    return walk(config.model_dump(mode="json"))
