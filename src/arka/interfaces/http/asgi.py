"""ASGI application factories for uvicorn."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from fastapi import FastAPI

from arka.app.core import Core, Settings
from arka.interfaces.http.app import create_app


def build_app(settings: Settings) -> FastAPI:
    return create_app(Core(settings))


def setup_process(settings: Settings) -> None:
    """Process-wide logging and tracing, from the settings."""
    from arka import observability
    observability.configure_logging(settings.log_level, settings.log_format,
                                    settings.log_output)
    if settings.tracing_enabled:
        observability.configure_tracing(settings.tracing_exporter, settings.tracing_endpoint,
                                        settings.tracing_sample_rate)


def settings_from_env() -> Settings:
    """What `arka-cli serve` hands its workers: ARKA_CONFIG (a configuration file) or the
    embedded defaults in ARKA_DATA_DIR, ARKA_BLOCKCHAIN_CONFIG, and ARKA_NO_AUTH=1."""
    config_file = os.environ.get("ARKA_CONFIG")
    if config_file:
        from arka.settings.file import load_config
        settings = Settings.from_config(load_config(config_file),
                                        database_url=os.environ.get("ARKA_DATABASE_URL"))
    else:
        settings = Settings.embedded(Path(os.environ.get("ARKA_DATA_DIR", ".arka")),
                                     os.environ.get("ARKA_DATABASE_URL"))
    blockchain = os.environ.get("ARKA_BLOCKCHAIN_CONFIG")
    if blockchain:
        from arka.settings.blockchain import load_blockchain_file
        chains, policy, poll = load_blockchain_file(blockchain)
        settings = dataclasses.replace(settings, chains=tuple(chains), anchor_policy=policy,
                                       anchor_poll_seconds=poll)
    if os.environ.get("ARKA_NO_AUTH") == "1":
        settings = dataclasses.replace(settings, auth=dataclasses.replace(settings.auth,
                                                                          enabled=False))
    return settings


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` with several workers: settings from the environment."""
    settings = settings_from_env()
    setup_process(settings)
    return build_app(settings)
