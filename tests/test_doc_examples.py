"""Every code block of README.md and docs/*.md that a reader would paste runs, as written.

- ```bash / ```sh / ```shell blocks run with `bash -e -o pipefail`, and ```console blocks
  run their `$ ` lines the same way, each block in its own scratch directory: a copy of the
  checkout's documentation, examples, configuration and deployment files, with the repo's
  `.venv` linked in (and its `bin/` first on PATH), so `.venv/bin/arka-cli` and
  `examples/...` resolve as they do in a checkout and nothing is written into the repo. A
  block that starts ARKA Core gets a free port instead of 8080 (the block's `8080`, and
  `serve`/`health` without `--port`/`--url`, are rewritten); everything it starts in the
  background is killed afterwards.
- ```python blocks are executed in a fresh namespace in that directory.
- ```yaml / ```json blocks that are a complete rule file (a `rule:` document) pass
  `arka-cli rule validate`; a complete table file (a `table:` document) loads with
  `arka.load_tables`. Other data blocks (requests, responses, fragments) are not run.

A block that cannot run here (it needs a Kubernetes cluster, Docker, real S3, ...) carries
`<!-- not-run: REASON -->` on the line before its opening fence: invisible to readers,
and the reason is required. Any other block that fails fails this test.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import arka
from tests.helpers import ROOT

DOCUMENTS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHELL = frozenset({"bash", "sh", "shell", "console"})
DATA = frozenset({"yaml", "yml", "json"})
VENV = ROOT / ".venv"
#: Copied into each block's scratch directory (small, and what the docs name).
COPIED = ("README.md", "ARCHITECTURE.md", "docs", "examples", "config", "deploy", "contracts",
          "Dockerfile", "docker-compose.yml", "pyproject.toml")
#: The longest any one block may take; the whole file takes a few seconds.
BLOCK_TIMEOUT = 60

NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)[^`]*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int            # of the opening fence, 1-based
    lang: str
    text: str
    not_run: str | None  # the marker's reason

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with the not-run marker before each."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence))
                                      and set(lines[i].strip()) == {fence[0]}):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        marker = NOT_RUN.match(lines[start - 1]) if start else None
        out.append(Block(path, start + 1, m["info"].lower(), "\n".join(body) + "\n",
                         marker["reason"] if marker else None))
        i += 1
    return out


BLOCKS = [b for doc in DOCUMENTS for b in code_blocks(doc)]


def _runnable(block: Block) -> bool:
    if block.lang in SHELL or block.lang == "python":
        return True
    return block.lang in DATA and _complete_file(block) is not None


def _complete_file(block: Block) -> str | None:
    """'rule' or 'table' when the block is a whole rule or table file."""
    try:
        doc = yaml.safe_load(block.text)
    except yaml.YAMLError:
        return None
    if isinstance(doc, dict) and len(doc) == 1 and next(iter(doc)) in ("rule", "table") \
            and isinstance(next(iter(doc.values())), dict):
        return str(next(iter(doc)))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_port(script: str, port: int) -> str:
    """The script with ARKA Core on `port` instead of the documented 8080."""
    script = re.sub(r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0):8080\b", rf"\1:{port}", script)
    script = re.sub(r"(arka-cli serve)(?![^\n]*--port)", rf"\1 --port {port}", script)
    return re.sub(r"(arka-cli health)(?![^\n]*--url)",
                  rf"\1 --url http://127.0.0.1:{port}", script)


def shell_script(block: Block) -> str:
    if block.lang != "console":
        return block.text
    # console: commands are the `$ ` lines (with their `\` continuations); the rest is output
    commands: list[str] = []
    continued = False
    for line in block.text.splitlines():
        if line.startswith("$ ") or continued:
            commands.append(line[2:] if line.startswith("$ ") and not continued else line)
            continued = line.endswith("\\")
    return "\n".join(commands) + "\n"


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".arka"))
        elif src.exists():
            shutil.copy2(src, tmp_path / name)
    (tmp_path / ".venv").symlink_to(VENV, target_is_directory=True)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


def _environment(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKA_")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp / "home")
    env["VIRTUAL_ENV"] = str(VENV)
    (tmp / "home").mkdir(exist_ok=True)
    return env


def run_shell(block: Block, tmp: Path) -> subprocess.CompletedProcess[str]:
    script = with_port(shell_script(block), _free_port())
    # every background job is ended when the block ends, and its process group after that
    prologue = "set -e -o pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    proc = subprocess.Popen(["bash", "-c", prologue + script], cwd=tmp, env=_environment(tmp),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"{block.where} did not finish in {BLOCK_TIMEOUT} s:\n{out[-4000:]}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


def run_python(block: Block) -> str:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(block.text, block.where, "exec"), namespace)  # noqa: S102 - the doc's code
    return buffer.getvalue()


def validate_file(block: Block, tmp: Path) -> None:
    kind = _complete_file(block)
    folder = tmp / "block"
    folder.mkdir()
    doc = yaml.safe_load(block.text)
    name = doc[kind].get("metadata", doc[kind]).get("name", "block") if kind else "block"
    path = folder / f"{name}.{'json' if block.lang == 'json' else 'yaml'}"
    path.write_text(block.text, encoding="utf-8")
    if kind == "table":
        assert arka.load_tables([str(folder)]).tables, block.where
        return
    proc = subprocess.run([str(VENV / "bin" / "arka-cli"), "rule", "validate", str(path)],
                          capture_output=True, text=True, env=_environment(tmp), timeout=60)
    assert proc.returncode == 0, f"{block.where}: arka-cli rule validate:\n{proc.stdout}{proc.stderr}"


RUNNABLE = [b for b in BLOCKS if _runnable(b)]


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.where for b in RUNNABLE])
def test_documented_block_runs(block: Block, workdir: Path) -> None:
    if block.not_run is not None:
        pytest.skip(f"marked not-run: {block.not_run}")
    if block.lang in SHELL:
        proc = run_shell(block, workdir)
        assert proc.returncode == 0, \
            f"{block.where} failed (exit {proc.returncode}):\n{block.text}\n--- output ---\n" \
            f"{proc.stdout[-6000:]}"
        # curl -s exits 0 on an HTTP error: an API error answer is a failure too
        errors = [line for line in proc.stdout.splitlines() if line.startswith('{"error"')]
        assert not errors, f"{block.where}: the API answered with an error:\n" + "\n".join(errors)
    elif block.lang == "python":
        run_python(block)
    else:
        validate_file(block, workdir)


def test_blocks_are_found_and_markers_have_reasons() -> None:
    """The extraction finds the README's runnable blocks (a parser that finds nothing
    would pass everything), and every not-run marker says why and sits on a block."""
    readme = [b for b in RUNNABLE if b.path.name == "README.md"]
    assert sum(b.lang in SHELL for b in readme) >= 3 and any(b.lang == "python" for b in readme)
    assert any(b.not_run is None and "arka-cli serve" in b.text for b in readme)
    for doc in DOCUMENTS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        starts = {b.line for b in BLOCKS if b.path == doc}
        for number, line in enumerate(lines, 1):
            if line.lstrip().startswith("<!--") and "not-run" in line:
                m = NOT_RUN.match(line)
                assert m and m["reason"], f"{doc.name}:{number}: write <!-- not-run: REASON -->"
                assert number + 1 in starts, f"{doc.name}:{number}: not-run marker not before a fence"


def test_port_rewrite() -> None:
    script = (".venv/bin/arka-cli serve --data-dir .arka &   # on :8080\n"
              ".venv/bin/arka-cli health --wait 30\ncurl -s localhost:8080/api/v1/keys\n")
    assert with_port(script, 9999) == (
        ".venv/bin/arka-cli serve --port 9999 --data-dir .arka &   # on :8080\n"
        ".venv/bin/arka-cli health --url http://127.0.0.1:9999 --wait 30\n"
        "curl -s localhost:9999/api/v1/keys\n")
