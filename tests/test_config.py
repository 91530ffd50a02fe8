"""Configuration files: the deployment guide's config/production.yaml as written, our
development.yaml, substitution, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arka.app.core import Core
from arka.interfaces.cli import main
from arka.settings import Settings
from arka.settings.blockchain import ConfigError
from arka.settings.file import load_config, masked, parse_config

ROOT = Path(__file__).resolve().parent.parent
PEM = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()
#: The deployment guide's config/production.yaml, verbatim (tests/fixtures/guide/README.md).
GUIDE_CONFIG = ROOT / "tests" / "fixtures" / "guide" / "config-production.yaml"
ENV = {"DATABASE_HOST": "db.internal", "DATABASE_USER": "pact",
       "DATABASE_PASSWORD": "p@ss:word/1", "REDIS_HOST": "redis.internal",
       "REDIS_PASSWORD": "redis-secret", "ETHEREUM_RPC_URL": "https://eth.example",
       "ETHEREUM_CONTRACT_ADDRESS": "0x" + "11" * 20, "POLYGON_RPC_URL": "https://poly.example",
       "POLYGON_CONTRACT_ADDRESS": "0x" + "22" * 20,
       "ARKA_ETHEREUM_PRIVATE_KEY": "0x" + "33" * 32, "ARKA_POLYGON_PRIVATE_KEY": "0x" + "44" * 32}


def test_shipped_production_file_is_the_guides_file() -> None:
    assert (ROOT / "config" / "production.yaml").read_text() == GUIDE_CONFIG.read_text()


def test_production_file_loads_as_written() -> None:
    config = load_config(ROOT / "config" / "production.yaml", ENV)
    assert config.production and config.log_format == "json"
    assert config.api.max_request_size == 10 * 1024 * 1024
    assert config.api.read_timeout == 30 and config.database.connection_timeout == 10
    assert config.api.rate_limiting.requests_per_minute == 1000
    assert config.api.rate_limiting.burst == 100
    assert config.database.sqlalchemy_url() == (
        "postgresql+psycopg://pact:p%40ss%3Aword%2F1@db.internal:5432/pact"
        "?sslmode=require&connect_timeout=10")
    assert config.redis.client_url() == "redis://:redis-secret@redis.internal:6379/0"
    assert config.rtvm.host == "arka-rtvm" and config.rtvm.max_concurrent == 1000
    assert config.observability.metrics.port == 9090
    assert config.observability.tracing.endpoint == "http://jaeger-collector:14268/api/traces"
    settings = Settings.from_config(config, dict(ENV, ARKA_ENCRYPTION_KEY="55" * 32,
                                                 ARKA_SIGNING_KEY=PEM))
    assert [c.name for c in settings.chains] == ["ethereum", "polygon"]
    assert [c.confirmation_blocks for c in settings.chains] == [12, 128]
    assert settings.cors is not None
    assert settings.cors["allow_origins"] == ["https://dashboard.arka-engine.example.com"]
    assert settings.rate_limit.burst == 100 and settings.environment == "production"
    settings.check()
    shown = str(masked(config))
    for secret in ("p@ss:word/1", "redis-secret"):
        assert secret not in shown


def test_development_file_loads_without_any_environment(tmp_path: Path) -> None:
    config = load_config(ROOT / "config" / "development.yaml", {})
    assert config.environment == "development" and config.database.sqlalchemy_url() is None
    assert config.redis.client_url() is None and config.rtvm.host is None


@pytest.mark.parametrize("doc, env, message", [
    ({"api": {"cors": {"allowed_origin": []}}}, {}, "api.cors.allowed_origin: unknown key"),
    ({"apii": {}}, {}, "apii: unknown key"),
    ({"api": {"port": 70000}}, {}, "api.port:"),
    ({"api": {"read_timeout": "soon"}}, {}, "api.read_timeout:"),
    ({"api": {"max_request_size": "10 parsecs"}}, {}, "api.max_request_size:"),
    ({"api": {"rate_limiting": {"burst": 0}}}, {}, "api.rate_limiting.burst:"),
    ({"database": {"host": "${DATABASE_HOST}"}}, {}, "database.host: environment variable "
                                                       "DATABASE_HOST is not set"),
    ({"database": {"ssl_mode": "sometimes"}}, {}, "database.ssl_mode:"),
    ({"log_level": "loud"}, {}, "log_level:"),
    ({"environment": "prod"}, {}, "environment:"),
    ({"observability": {"tracing": {"sample_rate": 2}}}, {}, "observability.tracing.sample_rate"),
    ({"blockchain": {"networks": {"x": {"rpc_url": "ftp://x"}}}}, {}, "rpc_url"),
    ([], {}, "must be a mapping"),
])
def test_bad_configuration_names_the_key(doc: Any, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc, env, "config.yaml")
    assert message in info.value.message, info.value.message


def test_substitution_defaults_and_environment_overrides() -> None:
    config = parse_config({"database": {"host": "${DB:-localhost}", "port": 5433},
                           "log_level": "info"},
                          {"ARKA_ENVIRONMENT": "Staging", "ARKA_LOG_LEVEL": "DEBUG",
                           "ARKA_LOG_FORMAT": "json"})
    assert config.database.host == "localhost" and config.database.port == 5433
    assert (config.environment, config.log_level, config.log_format) == ("staging", "debug",
                                                                         "json")
    with pytest.raises(ConfigError, match="ARKA_ENVIRONMENT|environment"):
        parse_config({}, {"ARKA_ENVIRONMENT": "moon"})


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("api:\n  port: [8080\n")
    with pytest.raises(ConfigError, match="line 3"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_cli_config_validate_and_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("ARKA_ENCRYPTION_KEY", "55" * 32)
    monkeypatch.setenv("ARKA_SIGNING_KEY", PEM)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    out = runner.invoke(main, ["config", "validate", str(ROOT / "config" / "production.yaml")])
    assert out.exit_code == 0 and "valid (production)" in out.output
    shown = runner.invoke(main, ["config", "show", str(ROOT / "config" / "production.yaml")])
    assert shown.exit_code == 0 and "redis-secret" not in shown.output
    assert "p@ss:word/1" not in shown.output and "password: '***'" in shown.output
    monkeypatch.delenv("ARKA_SIGNING_KEY")
    out = runner.invoke(main, ["config", "validate", str(ROOT / "config" / "production.yaml")])
    assert out.exit_code == 2 and "signing key" in out.output
    monkeypatch.delenv("ARKA_ENCRYPTION_KEY")
    out = runner.invoke(main, ["config", "validate", str(ROOT / "config" / "production.yaml")])
    assert out.exit_code == 2 and "encryption key" in out.output
    bad = tmp_path / "c.yaml"
    bad.write_text("api:\n  ratelimiting: {}\n")
    out = runner.invoke(main, ["config", "validate", str(bad)])
    assert out.exit_code == 2 and "api.ratelimiting: unknown key" in out.output


def test_configuration_changes_are_audited(tmp_path: Path) -> None:
    def core_with(burst: int) -> Core:
        config = parse_config({"storage": {"data_dir": str(tmp_path / "data")},
                               "api": {"rate_limiting": {"burst": burst}}}, {})
        core = Core(Settings.from_config(config, {}))
        core.store.migrate()
        return core

    core_with(100).record_config()
    core_with(100).record_config()  # unchanged: not recorded again
    core = core_with(50)
    core.record_config()
    events = core.store.audit.events("_system", page=1, per_page=10, action="config.applied")[0]
    assert len(events) == 2 and core.audit.verify("_system")["valid"]


def test_database_pool_follows_the_configuration(tmp_path: Path) -> None:
    config = parse_config({"storage": {"data_dir": str(tmp_path)},
                           "database": {"url": "postgresql+psycopg://u@127.0.0.1/db",
                                        "min_connections": 10, "max_connections": 100}}, {})
    settings = Settings.from_config(config, {})
    assert (settings.db_pool_size, settings.db_max_overflow) == (10, 90)
    from arka.storage import Store
    store = Store(settings.database_url, pool_size=settings.db_pool_size,
                  max_overflow=settings.db_max_overflow)
    assert store.engine.pool.size() == 10  # type: ignore[attr-defined]
    assert store.connections_available() == 100
