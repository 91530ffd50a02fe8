"""The web dashboard: the single-page application built from `ui/` into `ui_static/`,
served at /ui/ (`api.dashboard: false` turns it off). It calls the same API as any other
client, with the credential the user signs in with; nothing here bypasses the guard.

Every dashboard response carries a Content-Security-Policy that allows scripts, styles,
images and connections from this origin only (the bundle has no inline script and loads
nothing from elsewhere), forbids framing, and sends no referrer.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(str(files("arka.interfaces.http") / "ui_static"))

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()),
           (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"),
           (b"x-frame-options", b"DENY"),
           (b"cross-origin-opener-policy", b"same-origin")]


class _Secured:
    """The static files with the dashboard's security headers; the HTML shell and the
    runtime config are never cached (the hashed assets may be)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        hashed = "/assets/" in path

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(HEADERS)
                headers.append((b"cache-control", b"public, max-age=31536000, immutable"
                                if hashed else b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def available() -> bool:
    return (STATIC / "index.html").is_file()


def mount(app: FastAPI) -> None:
    """Serve the dashboard at /ui/ (and redirect /ui there)."""
    @app.get("/ui", include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=308)

    app.mount("/ui", _Secured(StaticFiles(directory=STATIC, html=True)), name="ui")
