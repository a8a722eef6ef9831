"""The web chat's pages and files, served by the gateway: headers, CSP, framing, no cookies, nothing
from another origin, text escaped. The real-browser tests are in test_webchat_browser.py."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from bot.gateway import pages
from bot.gateway.app import create_app

PAGES = ["/", "/safety", "/embed", "/embed/safety"]
STATIC = ["/static/chat/chat.js", "/static/chat/exit.js", "/static/chat/chat.css",
          "/static/favicons/neutral.svg", "/embed.js"]
EXIT_URL = "https://www.bbc.co.uk/weather"


class Collect(HTMLParser):
    """Tags with their attributes, inline script/style bodies, and every absolute URL in attributes."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.script_bodies = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def parse(html: str) -> Collect:
    c = Collect()
    c.feed(html)
    return c


def edit_profile(settings, **web_chat):
    path = Path(settings.profile_path)
    data = yaml.safe_load(path.read_text())
    data["web_chat"].update(web_chat)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def settings(make_settings):
    # Pages need no Rasa: point it at a closed port.
    return make_settings(RASA_URLS="http://127.0.0.1:9", RASA_TIMEOUT="1")


@pytest.fixture
async def client(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings))


def csp(resp) -> dict:
    out = {}
    for directive in resp.headers["Content-Security-Policy"].split(";"):
        parts = directive.split()
        if parts:
            out[parts[0]] = parts[1:]
    return out


@pytest.mark.parametrize("path", PAGES + STATIC)
async def test_security_headers_and_no_cookies(client, path):
    resp = await client.get(path)
    assert resp.status == 200, path
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in resp.headers["Cache-Control"]
    assert "Set-Cookie" not in resp.headers
    assert not resp.cookies


@pytest.mark.parametrize("path", PAGES)
async def test_pages_have_a_strict_csp_without_inline_code(client, path):
    resp = await client.get(path)
    policy = csp(resp)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]  # the message form never submits natively (no URL trace)
    text = resp.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in text and "unsafe-eval" not in text and "*" not in text

    doc = parse(await resp.text())
    assert doc.script_bodies == [], "inline script"
    for tag, attrs in doc.tags:
        assert tag != "style", "inline <style>"
        assert "style" not in attrs, f"style attribute on <{tag}>"
        assert not [a for a in attrs if a.startswith("on")], f"inline handler on <{tag}>"
        if tag == "script":
            assert attrs["src"].startswith("/static/")


@pytest.mark.parametrize("path", PAGES)
async def test_nothing_is_loaded_from_another_origin(client, path):
    doc = parse(await (await client.get(path)).text())
    absolute = []
    for tag, attrs in doc.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = attrs.get(name)
            if value and re.match(r"^(https?:)?//", value):
                absolute.append((tag, name, value))
            if value and tag in ("script", "link", "img", "iframe", "source", "object", "embed"):
                assert value.startswith("/") and not value.startswith("//"), (tag, value)
    # The only absolute address is the quick-exit destination, on the exit link (never loaded).
    assert absolute == [("a", "href", EXIT_URL)]


@pytest.mark.parametrize("path", STATIC)
async def test_static_files_name_no_other_origin(client, path):
    resp = await client.get(path)
    body = await resp.text()
    code = re.sub(r"/\*.*?\*/", "", body, flags=re.S)  # comments may show an example tag
    code = code.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    if path == "/embed.js":  # the profile's values written in: places to go, never fetched
        config = re.search(r"var CONFIG = (\{.*?\});", code)
        assert config, "embed.js carries the profile's exit and fallback details"
        values = json.loads(config.group(1))
        assert values["exitUrl"] == "https://www.bbc.co.uk/weather"
        assert values["frameAncestors"] == ["https://www.northbrook.example"]
        code = code.replace(config.group(1), "{}")
    assert not re.search(r"https?://|[\"'(]//[a-z]", code, flags=re.I), path
    assert "@import" not in code and "url(" not in code.replace("URL(", "")
    if path.endswith(".js"):
        assert "javascript" in resp.headers["Content-Type"]
        assert "innerHTML" not in code and "insertAdjacentHTML" not in code and "document.write" not in code
        assert "localStorage" not in code and "document.cookie" not in code
    elif path.endswith(".css"):
        assert resp.headers["Content-Type"].startswith("text/css")
    elif path.endswith(".svg"):
        assert resp.headers["Content-Type"].startswith("image/svg+xml")


async def test_only_the_embed_may_be_framed_and_only_by_the_profile_origins(client):
    for path in ("/", "/safety", "/static/chat/chat.js", "/healthz"):
        resp = await client.get(path)
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"], path
        assert resp.headers["X-Frame-Options"] == "DENY", path
    for path in ("/embed", "/embed/safety"):
        resp = await client.get(path)
        assert csp(resp)["frame-ancestors"] == ["https://www.northbrook.example"]
        assert "X-Frame-Options" not in resp.headers  # no "these origins" value: CSP decides


async def test_embed_without_configured_origins_cannot_be_framed(aiohttp_client, settings):
    edit_profile(settings, frame_ancestors=[])
    client = await aiohttp_client(create_app(settings))
    resp = await client.get("/embed")
    assert csp(resp)["frame-ancestors"] == ["'none'"]
    assert resp.headers["X-Frame-Options"] == "DENY"


async def test_embed_script_can_be_loaded_by_a_council_page(client):
    resp = await client.get("/embed.js")
    assert resp.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "/embed" in await resp.text()
    # Everything else stays same-origin only.
    assert (await client.get("/static/chat/chat.js")).headers["Cross-Origin-Resource-Policy"] == "same-origin"


async def test_neutral_title_favicon_and_exit_destination_come_from_the_profile(aiohttp_client, settings):
    edit_profile(settings, title="Local services", quick_exit_url="https://www.example.org/news")
    client = await aiohttp_client(create_app(settings))
    for path in PAGES:
        html = await (await client.get(path)).text()
        assert "<title>Local services</title>" in html
        assert '<link rel="icon" href="/static/favicons/neutral.svg">' in html
        assert 'data-exit-url="https://www.example.org/news"' in html
        assert 'href="https://www.example.org/news"' in html
        assert "domestic abuse" not in html.split("</title>")[0].lower()


async def test_profile_text_is_escaped_and_favicon_cannot_escape_its_folder(aiohttp_client, settings):
    edit_profile(settings, title='Help <script>alert(1)</script> & "advice"', favicon="../../app.py")
    client = await aiohttp_client(create_app(settings))
    html = await (await client.get("/")).text()
    assert "<script>alert(1)" not in html
    assert "Help &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;advice&#34;" in html
    assert 'href="/static/favicons/neutral.svg"' in html


@pytest.mark.parametrize("path", ["/static/../pages.py", "/static/%2e%2e/pages.py", "/static/",
                                  "/static/chat/", "/static/../templates/chat/base.html"])
async def test_static_serves_only_its_own_files(client, path):
    resp = await client.get(path)
    assert resp.status in (403, 404)


async def test_start_screen_explains_the_quick_exit(client):
    html = await (await client.get("/")).text()
    assert "Exit this page" in html
    assert "Shift" in html and "3 times" in html
    assert "does not erase your browser history" in html
    assert 'href="/safety"' in html
    assert re.search(r'call <a class="tel" href="tel:999">999</a>', html.replace("Call", "call"))
    assert 'href="tel:999" class="call-999"' in html, "Call 999 in the sticky bar"
    # The offline message carries 999 and the national helpline.
    offline = html[html.index('id="offline"'):]
    offline = offline[:offline.index("</div>")]
    assert "999" in offline and "0808 2000 247" in offline


async def test_safety_page_covers_what_it_must(client):
    html = await (await client.get("/safety")).text()
    for words in ("Private browsing", "Clearing your history", "Shared or monitored devices",
                  "cannot hide a visit that has already been recorded", "Exit this page"):
        assert words in html, words
    assert 'href="/"' in html  # back to the chat
    embedded = await (await client.get("/embed/safety")).text()
    assert 'href="/embed"' in embedded and 'href="/embed/safety"' in embedded


async def test_embed_exit_link_leaves_the_whole_page_without_javascript(client):
    doc = parse(await (await client.get("/embed")).text())
    link = [a for t, a in doc.tags if t == "a" and a.get("id") == "exit-button"][0]
    assert link["target"] == "_top" and link["href"] == EXIT_URL


def test_national_numbers_are_the_reference_ones():
    assert pages.EMERGENCY == "999"
    assert pages.HELPLINE == "0808 2000 247"
