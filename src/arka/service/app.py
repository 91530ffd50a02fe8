"""ASGI application factories for uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from arka.service.api import create_app
from arka.service.core import Core, Settings


def build_app(settings: Settings) -> FastAPI:
    return create_app(Core(settings))


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` with several workers: settings from the environment."""
    return build_app(Settings.embedded(Path(os.environ.get("ARKA_DATA_DIR", ".arka")),
                                       os.environ.get("ARKA_DATABASE_URL")))
