"""The service's background jobs (tree heads, anchoring) during an outage: logged once with
the traceback, then rarely, and their recovery once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from arka.interfaces.http import app as app_module


def test_a_failing_background_job_is_logged_once_then_rarely(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}

    def job() -> None:
        calls["n"] += 1
        if calls["n"] <= 30:
            raise ConnectionError("database unavailable")

    monkeypatch.setattr(app_module, "REPEAT_LOG_SECONDS", 3600.0)

    async def run() -> None:
        task = asyncio.create_task(app_module._every(0.001, job, "tree head"))
        while calls["n"] < 40:
            await asyncio.sleep(0.005)
        task.cancel()

    with caplog.at_level(logging.WARNING, logger="arka.api"):
        asyncio.run(run())
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("background tree head failed") == 1
    assert caplog.records[0].exc_info is not None
    assert len(messages) == 2
    assert messages[1].startswith("background tree head recovered after")
