"""ASGI application factories for uvicorn."""

from __future__ import annotations

import os

from fastapi import FastAPI

from arka.app.core import Core
from arka.interfaces.http.app import create_app
from arka.interfaces.http.protocol import TimedHTTP
from arka.settings import Settings, load


def build_app(settings: Settings) -> FastAPI:
    return create_app(Core(settings))


def http_protocol(settings: Settings) -> type[TimedHTTP]:
    """uvicorn's HTTP protocol with the header deadline (`read_timeout`) and the write
    deadline (`write_timeout`) of these settings (see `protocol`)."""
    return TimedHTTP.configure(settings.read_timeout, settings.write_timeout)


def setup_process(settings: Settings) -> None:
    """Process-wide logging and tracing, from the settings."""
    from arka import observability
    observability.configure_logging(settings.log_level, settings.log_format,
                                    settings.log_output)
    if settings.tracing_enabled:
        observability.configure_tracing(settings.tracing_exporter, settings.tracing_endpoint,
                                        settings.tracing_sample_rate)


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` (the workers of `arka-cli serve --workers N`): the settings
    the parent process built (`Settings.to_env`), else built here from ARKA_CONFIG or the
    embedded defaults in ARKA_DATA_DIR, with ARKA_BLOCKCHAIN_CONFIG."""
    settings = Settings.from_env() or load(
        os.environ.get("ARKA_DATA_DIR", ".arka"), os.environ.get("ARKA_DATABASE_URL"),
        blockchain_file=os.environ.get("ARKA_BLOCKCHAIN_CONFIG"))
    setup_process(settings)
    http_protocol(settings)  # before this worker listens
    return build_app(settings)
