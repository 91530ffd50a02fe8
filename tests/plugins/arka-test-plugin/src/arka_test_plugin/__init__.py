"""Two plugins for ARKA Engine's tests: `testkit` (untrusted, runs in worker processes
with tight limits) and `trustedkit` (trusted, runs in the engine's process)."""

from __future__ import annotations

import os
import socket
import time
from decimal import Decimal
from typing import Any

from arka.plugins import Permissions, Plugin, export

_CALLS = {"n": 0}


class TestKit(Plugin):
    """Functions that behave, fail, hang, crash and overreach, for the tests."""

    name = "testkit"
    version = "1.0.0"
    permissions = Permissions(network=False, secrets=("ARKA_TEST_SECRET",), files=(),
                              max_time=2.0, max_memory=384 * 1024 * 1024)

    @export
    def add(self, a: Decimal, b: Decimal) -> Decimal:
        """The exact sum."""
        return a + b

    @export(returns={"type": "object", "properties": {"value": "any", "pid": "integer"}})
    def echo(self, value: Any, tag: str = "") -> dict[str, Any]:
        """The value back, with the worker's process id."""
        return {"value": value, "pid": os.getpid()}

    @export
    def counter(self) -> Decimal:
        """How many times this process has answered counter() (repeats are made once)."""
        _CALLS["n"] += 1
        return Decimal(_CALLS["n"])

    @export
    def sleep(self, seconds: Decimal) -> bool:
        time.sleep(float(seconds))
        return True

    @export
    def crash(self) -> bool:
        os._exit(3)

    @export
    def allocate(self, megabytes: Decimal) -> Decimal:
        block = bytearray(int(megabytes) * 1024 * 1024)
        return Decimal(len(block))

    @export
    def connect(self, host: str, port: int) -> bool:
        with socket.create_connection((host, int(port)), timeout=1):
            return True

    @export
    def read_file(self, path: str) -> str:
        with open(path, encoding="utf-8") as f:
            return f.read()

    @export
    def secret(self, name: str) -> str:
        return os.environ.get(name, "")

    @export
    def bad_result(self) -> Decimal:
        return "not a number"  # type: ignore[return-value]

    @export
    def fail(self, message: str) -> bool:
        raise RuntimeError(message)


class TrustedKit(Plugin):
    """A trusted plugin: runs in the engine's own process."""

    name = "trustedkit"
    version = "2.1.0"
    trusted = True
    permissions = Permissions(max_time=1.0)

    def data_version(self) -> dict[str, Any] | None:
        return {"greetings": "v1"}

    @export(returns={"type": "object", "properties": {"greeting": "string",
                                                      "length": "integer"}})
    def greet(self, name: str, punctuation: str = "!") -> dict[str, Any]:
        """A greeting."""
        return {"greeting": f"Hello, {name}{punctuation}", "length": len(name)}

    @export
    def slow(self, seconds: Decimal) -> bool:
        time.sleep(float(seconds))
        return True

    @export
    def pid(self) -> int:
        return os.getpid()
