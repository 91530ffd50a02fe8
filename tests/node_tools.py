"""Node.js tools the chain tests need, from the npm registry: ganache (a real JSON-RPC
Ethereum node) and solc-js (the Solidity compiler). Installed once into a cache directory
(ARKA_TEST_NODE_DIR, default ~/.cache/arka-test-node)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGES = ("ganache@7.9.2", "solc@0.8.37")


def node_tools() -> Path:
    base = Path(os.environ.get("ARKA_TEST_NODE_DIR",
                               Path.home() / ".cache" / "arka-test-node"))
    modules = base / "node_modules"
    if all((modules / p.split("@")[0]).is_dir() for p in PACKAGES):
        return modules
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        if os.environ.get("ARKA_REQUIRE_SERVICES") == "1":
            pytest.fail("node and npm are needed for the chain integration tests")
        pytest.skip("node/npm not installed")
    base.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", *PACKAGES], cwd=base,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        message = f"npm install {' '.join(PACKAGES)} failed: {proc.stderr[-2000:]}"
        if os.environ.get("ARKA_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return modules
