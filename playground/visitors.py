"""Who is asking, on a public app: each browser gets a random visitor cookie (an API client without it is
its Gradio session), and every run, upload and vote lives under that visitor's own directory.

The cookie is a secret; only its hash names the directory, so knowing a directory's name gives no access."""

from __future__ import annotations

import hashlib
import os
import re
import secrets

import gradio as gr

from playground.settings import Settings

COOKIE = "polyglot_visitor"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def visitor_id(request: gr.Request | None) -> str:
    """A short, stable id for the visitor making `request` (the hash of their cookie or session)."""
    if request is None:
        return ""
    try:
        cookies = request.cookies  # gradio wraps the dict in an object with [] and `in`, but no .get
        token = cookies[COOKIE] if COOKIE in cookies else ""
    except AttributeError:  # a request made up in a test, without cookies
        token = ""
    if not _TOKEN.match(token or ""):
        token = f"session:{getattr(request, 'session_hash', '') or ''}"
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def view(settings: Settings, request: gr.Request | None) -> Settings:
    """The settings as this request's visitor sees them: on a public app, their own runs dir."""
    return settings.for_visitor(visitor_id(request)) if settings.public else settings


def add_middleware(api, public: bool) -> None:
    """Give each browser a visitor cookie; on a public app also refuse the routes that fetch a URL a visitor
    names (Gradio's `file=http…` and `proxy=`) and forbid pages to load images from other hosts."""

    @api.middleware("http")
    async def visitor_cookie(request, call_next):
        from starlette.responses import PlainTextResponse

        path = request.url.path
        if public and ("/proxy=" in path.lower() or re.search(r"/file[=/]+https?:", path, re.IGNORECASE)):
            return PlainTextResponse("This public app fetches no URL for a visitor.", status_code=403)
        response = await call_next(request)
        if not _TOKEN.match(request.cookies.get(COOKIE, "")):
            # A Space shows the app in an iframe on huggingface.co: only a SameSite=None (so Secure) cookie is sent
            # there; where the browser blocks it anyway, the visitor is their Gradio session (one per page load).
            on_space = bool(os.environ.get("SPACE_ID"))
            response.set_cookie(COOKIE, secrets.token_urlsafe(24), httponly=True, secure=on_space,
                                samesite="none" if on_space else "lax", max_age=60 * 60 * 24 * 30)
        if public:  # defence in depth: even an unescaped image could not call another host
            response.headers["Content-Security-Policy"] = "img-src 'self' data: blob:; media-src 'self' data: blob:"
        return response
