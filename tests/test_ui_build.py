"""The dashboard the Python package ships (src/arka/interfaces/http/ui_static) is the
build of the sources in ui/ as they are: rebuilt here and compared byte for byte; and it
loads nothing from another origin (no CDN: the page works without a network)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.service_fixtures import _require_or_skip

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "ui"
PACKAGED = ROOT / "src" / "arka" / "interfaces" / "http" / "ui_static"
STALE = ("the committed dashboard build is not the build of ui/: run `cd ui && npm ci && "
         "npm run build` and commit src/arka/interfaces/http/ui_static")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_packaged_build_is_the_build_of_the_sources(tmp_path: Path) -> None:
    npx = shutil.which("npx")
    if npx is None or not (UI / "node_modules" / ".bin" / "vite").exists():
        _require_or_skip("node, npx and ui/node_modules (`npm ci` in ui/) are needed to "
                         "rebuild the dashboard")
    out = tmp_path / "build"
    done = subprocess.run([str(npx), "vite", "build", "--outDir", str(out), "--emptyOutDir",
                           "--logLevel", "warn"], cwd=UI, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    built, shipped = _files(out), _files(PACKAGED)
    assert sorted(built) == sorted(shipped), f"{STALE}\nfiles: {sorted(built)} != {sorted(shipped)}"
    differ = [name for name in built if built[name] != shipped[name]]
    assert not differ, f"{STALE}\ndiffering: {differ}"


def test_the_page_loads_nothing_from_elsewhere() -> None:
    index = (PACKAGED / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r"""(?:src|href)=["']([^"']+)["']""", index)
    assert refs, index
    assert all(r.startswith("./") or r.startswith("data:") for r in refs), refs
    for asset in (PACKAGED / "assets").iterdir():
        text = asset.read_text(encoding="utf-8", errors="replace")
        # no stylesheet, font or script fetched from an absolute URL
        assert not re.search(r"""@import\s+url\(\s*["']?https?:|url\(\s*["']?https?://"""
                             r"""|import\(\s*["']https?://""", text), asset.name
