"""The web chat: the page at `/`, the framable copy at `/embed` (opened by `/embed.js` on a council's
own page), the "staying safe online" page, and their static files.

Everything is served from this origin: no CDN, web font, analytics or tracker. Pages carry a strict
CSP (no inline script or style); only the `/embed*` pages may be framed, and only by the origins in
profile `web_chat.frame_ancestors`. Text from the bot and from the person is rendered by
static/chat/chat.js with textContent, never as HTML. The quick exit lives in static/chat/exit.js.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from bot.gateway import keys
from bot.profile import Profile

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
FAVICON_DIR = STATIC_DIR / "favicons"
DEFAULT_FAVICON = "neutral.svg"
FAVICON_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,80}\.(svg|png|ico)")

# National numbers (source: ../shared/reference/README.md, "Helplines" and "Silent Solution").
EMERGENCY = "999"
HELPLINE_NAME = "National Domestic Abuse Helpline"
HELPLINE = "0808 2000 247"

# Our own environment rather than aiohttp_jinja2.setup(app), which the staff dashboard owns.
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(HERE / "templates" / "chat")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_csp(frame_ancestors: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "font-src 'none'; media-src 'none'; object-src 'none'; worker-src 'none'; manifest-src 'none'; "
        f"base-uri 'none'; form-action 'none'; frame-src 'none'; frame-ancestors {frame_ancestors}"
    )


def embed_ancestors(profile: Profile) -> str:
    return " ".join(profile.web_chat.frame_ancestors) or "'none'"


def favicon_name(profile: Profile) -> str:
    name = profile.web_chat.favicon
    if FAVICON_RE.fullmatch(name) and (FAVICON_DIR / name).is_file():
        return name
    return DEFAULT_FAVICON


def context(profile: Profile, embed: bool) -> Dict[str, Any]:
    exit_url = str(profile.web_chat.quick_exit_url)
    prefix = "/embed" if embed else ""
    return {
        "title": profile.web_chat.title,
        "org_name": profile.organisation.name,
        "favicon": f"/static/favicons/{favicon_name(profile)}",
        "exit_url": exit_url,
        "exit_host": urlsplit(exit_url).hostname or exit_url,
        "embed": embed,
        "chat_href": prefix or "/",
        "safety_href": f"{prefix}/safety",
        "emergency": EMERGENCY,
        "helpline_name": HELPLINE_NAME,
        "helpline": HELPLINE,
        "helpline_tel": HELPLINE.replace(" ", ""),
    }


def render(request: web.Request, template: str, embed: bool) -> web.Response:
    profile = request.app[keys.PROFILE].get()
    body = TEMPLATES.get_template(template).render(**context(profile, embed))
    response = web.Response(text=body, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = page_csp(embed_ancestors(profile) if embed else "'none'")
    return response


async def chat_page(request: web.Request) -> web.Response:
    return render(request, "chat.html", embed=False)


async def embed_page(request: web.Request) -> web.Response:
    return render(request, "chat.html", embed=True)


async def safety_page(request: web.Request) -> web.Response:
    return render(request, "safety.html", embed=False)


async def embed_safety_page(request: web.Request) -> web.Response:
    return render(request, "safety.html", embed=True)


EMBED_CONFIG_MARK = "/*CONFIG*/null"


def embed_config(profile: Profile) -> Dict[str, Any]:
    """What embed.js needs before (or without) the chat frame: where the exit goes, which origins
    may frame the chat, and the numbers for its fallback panel."""
    return {
        "exitUrl": str(profile.web_chat.quick_exit_url),
        "frameAncestors": list(profile.web_chat.frame_ancestors),
        "emergency": EMERGENCY,
        "helplineName": HELPLINE_NAME,
        "helpline": HELPLINE,
        "helplineTel": HELPLINE.replace(" ", ""),
    }


def embed_script(profile: Profile) -> str:
    source = (STATIC_DIR / "embed.js").read_text(encoding="utf-8")
    if EMBED_CONFIG_MARK not in source:
        raise RuntimeError("embed.js has lost its CONFIG mark")
    # JSON is a JavaScript expression; "<" escaped all the same, so no text can end a script.
    config = json.dumps(embed_config(profile), ensure_ascii=True).replace("<", "\\u003c")
    return source.replace(EMBED_CONFIG_MARK, config, 1)


async def embed_js(request: web.Request) -> web.Response:
    """The one-line embed for a council's page, with the profile's exit and fallback details written
    in. Loaded cross-origin by a <script> tag, so it is the one resource with
    Cross-Origin-Resource-Policy: cross-origin."""
    profile = request.app[keys.PROFILE].get()
    response = web.Response(text=embed_script(profile), content_type="text/javascript",
                            charset="utf-8")
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/", chat_page)
    app.router.add_get("/safety", safety_page)
    app.router.add_get("/embed", embed_page)
    app.router.add_get("/embed/safety", embed_safety_page)
    app.router.add_get("/embed.js", embed_js)
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False,
                          append_version=False)
