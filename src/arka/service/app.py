"""ASGI application factories for uvicorn."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from fastapi import FastAPI

from arka.service.api import create_app
from arka.service.core import Core, Settings


def build_app(settings: Settings) -> FastAPI:
    return create_app(Core(settings))


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` with several workers: settings from the environment."""
    settings = Settings.embedded(Path(os.environ.get("ARKA_DATA_DIR", ".arka")),
                                 os.environ.get("ARKA_DATABASE_URL"))
    config = os.environ.get("ARKA_BLOCKCHAIN_CONFIG")
    if config:
        from arka.anchor.config import load_blockchain_file
        chains, policy, poll = load_blockchain_file(config)
        settings = dataclasses.replace(settings, chains=tuple(chains), anchor_policy=policy,
                                       anchor_poll_seconds=poll)
    return build_app(settings)
