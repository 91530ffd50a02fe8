"""The code's shape: imports point down the layers (import-linter contracts in
pyproject.toml) and no module grows past the size a reader can hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "arka"
MAX_LINES = 800


def test_imports_point_down_the_layers() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed; pip install -e '.[dev]'")
    out = subprocess.run([exe, "--no-cache"], capture_output=True, text=True,
                         cwd=SRC.parent.parent)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_module_is_over_the_size_limit() -> None:
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"
