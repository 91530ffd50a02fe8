"""Generated docs match the code; the README's commands and documented files exist."""

from __future__ import annotations

from arka.interfaces.docgen import render
from tests.helpers import ROOT


def test_generated_docs_are_current() -> None:
    for path, content in render(ROOT / "docs").items():
        assert path.read_text(encoding="utf-8") == content, \
            f"{path} is stale: run python -m arka.interfaces.docgen docs"


def test_documents_named_in_the_readme_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("docs/api.md", "docs/language.md", "docs/functions.md", "docs/tables.md",
                 "docs/rtvm-bytecode.md", "docs/errors.md", "bench/README.md",
                 "ARCHITECTURE.md"):
        assert name in readme or name == "ARCHITECTURE.md"
        assert (ROOT / name).exists(), name


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pytest" in readme
    assert "\n.venv/bin/python -m pytest\n" in ci
