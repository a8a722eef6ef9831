"""The staff dashboard end to end, on the real stack (gateway, Rasa, action server):

- a callback booked through POST /webhooks/rest/webhook with every safe-call answer chosen, then a
  caseworker (created with the repository functions on the stack's database) signs in with password
  and TOTP over HTTP, sees it in the queue without personal data, opens it (audit row; decrypted name
  and the safe-call instructions only there), claims it, records an attempt and completes it;
- the same in headless Chromium (tests/browser/staff.test.mjs): the sign-in form's post under
  `Referrer-Policy: no-referrer`, CSRF, sign-out, no CSP violations;
- without the stack: every detail key the forms store has a label on the record page.

The `__Host-` cookies are Secure, so the HTTP client keeps them itself and sends them explicitly.
Invented people and Ofcom drama numbers only.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

from bot.callbacks import form
from bot.gateway.staff import views
from bot.settings import ROOT, load_settings

NAME = "Rosalind Queuetest"
PHONE_TYPED = "07700 900 862"
PHONE_E164 = "+447700900862"
NOTE = "Quillfeather asked about a non-molestation order"
WORDING = "Hello this is Sam from the library about your books"
COVER = "Say you are calling from the dental surgery"
PASSWORD = "amber kettle meadow 58 lantern"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

# Every safe-call question answered by hand (not the safest settings in one step).
CHOSEN_BOOKING = [
    "can someone call me back", "/affirm", NAME, PHONE_TYPED, "weekday afternoons", "let me choose",
    "/affirm",  # a voicemail is OK...
    WORDING,  # ...with these words
    "/affirm",  # a text first is OK
    COVER,  # if someone else answers: this reason
    "a woman", "Polish", "an interpreter", NOTE,
    "/affirm",  # children in the home
    "/deny",  # not afraid of being seriously hurt
    "/affirm",  # confirm
]
DEFAULT_BOOKING = ["can someone call me back", "/affirm", "Tamsin Browsertest", "07700 900 863",
                   "weekday mornings", "use the safest settings", "skip", "skip", "skip", "/affirm"]


# ---------------------------------------------------------------- without the stack

def _chosen_slots() -> Dict[str, object]:
    return {form.DEFAULTS: False, form.VOICEMAIL: True, form.WORDING: WORDING, form.TEXT_FIRST: True,
            form.OTHER: "cover", form.COVER: COVER, form.GENDER: "woman", form.LANGUAGE: "Polish",
            form.INTERPRETER: "interpreter", form.CHILDREN: "yes", form.AFRAID: "no"}


def test_every_stored_detail_key_has_a_label():
    from bot import concern

    stored = set(form.booking_details({})) | set(form.booking_details(_chosen_slots()))
    report = concern.new_report({concern.DETAILS: "x", concern.RELATIONSHIP: "friend"}, "web", "k")
    stored |= set(report.details)
    assert stored <= set(views.DETAIL_LABELS), stored - set(views.DETAIL_LABELS)
    shown = set(views.SAFE_CALL_KEYS) | set(views.SAFETY_KEYS) | set(views.HIDDEN_KEYS)
    for key in ("voicemail", "text_first", "if_someone_else_answers", "worker_gender", "language", "interpreter",
                "children_in_home", "afraid_of_serious_harm"):
        assert key in shown and key in stored


def _instructions(details, wording=None, cover=None) -> Dict[str, Tuple[str, Optional[str], bool]]:
    return {i.label: (i.text, i.verbatim, i.warn) for i in views.safe_call_instructions(details, wording, cover)}


def test_safest_settings_read_as_the_safest_instructions():
    slots = {form.DEFAULTS: True, **form.SAFE_DEFAULTS, form.CHILDREN: form.SKIPPED, form.AFRAID: form.SKIPPED}
    details = form.booking_details(slots)
    got = _instructions(details)
    assert got["Voicemail"] == ("Do not leave a voicemail.", None, True)
    assert got["Text before calling"] == ("Do not text before calling.", None, True)
    assert got["If someone else answers"] == ("Hang up without saying who you are.", None, True)
    assert got["Preferred worker"][0] == "No preference"
    assert got["Language"] == ("English", None, False)
    assert got["Interpreter or BSL"] == ("Not needed", None, False)
    safety = {i.label: (i.text, i.warn) for i in views.safety_answers(details)}
    assert safety == {"Children in the home": ("Not answered", False),
                      "Afraid of being seriously hurt": ("Not answered", False)}
    assert dict(views.other_details(details)) == {"Contact settings": "The safest settings, accepted in one step"}


def test_chosen_settings_read_as_chosen():
    slots = _chosen_slots()
    details = form.booking_details(slots)
    got = _instructions(details, WORDING, COVER)
    assert got["Voicemail"] == ("A voicemail is OK. Leave only this message, exactly:", WORDING, False)
    assert got["Text before calling"][0].startswith("Yes: send a short text first")
    assert got["If someone else answers"] == ("Say only this, exactly:", COVER, False)
    assert got["Preferred worker"][0] == "A woman"
    assert got["Language"] == ("Polish", None, True)
    assert got["Interpreter or BSL"] == ("An interpreter is needed", None, True)
    assert _instructions({**details, "interpreter": "bsl"})["Interpreter or BSL"][0].startswith(
        "A British Sign Language (BSL) interpreter")
    safety = {i.label: (i.text, i.warn) for i in views.safety_answers(details)}
    assert safety == {"Children in the home": ("Yes", True), "Afraid of being seriously hurt": ("No", False)}
    # A wording stored but voicemail refused (never written by the form): the refusal wins.
    assert _instructions({**details, "voicemail": False}, WORDING)["Voicemail"][0] == "Do not leave a voicemail."
    # "cover" without the words: hang up rather than improvise.
    assert _instructions({"if_someone_else_answers": "cover"})["If someone else answers"][0].startswith("Hang up")


# ---------------------------------------------------------------- helpers for the stack

def turn(stack, sender: str, text: str) -> list:
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=60)
    try:
        conn.request("POST", "/webhooks/rest/webhook", body=json.dumps({"sender": sender, "message": text}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.status
        return json.loads(resp.read())
    finally:
        conn.close()


def book(stack, answers) -> str:
    sender = secrets.token_hex(16)
    transcript = []
    for answer in answers:
        replies = turn(stack, sender, answer)
        transcript.append((answer, " ".join(r.get("text") or "" for r in replies)))
    final = transcript[-1][1]
    m = re.search(r"reference is: ([a-z]+ [a-z]+ [a-z]+)", final)
    assert m, "no booking reference; transcript (bot side only):\n" + "\n".join(t for _, t in transcript)
    return m.group(1)


def stack_settings(stack):
    from bot.storage import crypto

    settings = load_settings(dict(stack.env), dotenv=False)  # the same development keys as the stack
    crypto.configure_from_settings(settings)
    return settings


def db(stack, fn):
    """Run `await fn(engine)` against the stack's database with the repository functions."""
    from bot.storage.db import create_engine

    settings = stack_settings(stack)

    async def run():
        engine = create_engine(settings.database_url)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def create_staff(stack, role: str = "caseworker") -> Tuple[str, str]:
    from bot.staff import passwords, store, totp

    name = f"e2e-{role}-{secrets.token_hex(3)}"
    secret = totp.new_secret()

    async def create(engine):
        await store.create_user(engine, name, role, await passwords.hash_password(PASSWORD), secret)

    db(stack, create)
    return name, secret


class Client:
    """Plain HTTP against the gateway, keeping the Secure `__Host-` cookies by hand."""

    def __init__(self, stack):
        self.port = stack.port
        self.origin = stack.url
        self.cookies: Dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, form_data=None, origin: bool = True, csrf: bool = True):
        headers = {}
        body = None
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST":
            data = dict(form_data or {})
            if csrf and "csrf" not in data:
                data["csrf"] = self.csrf
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if origin:
                headers["Origin"] = self.origin
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode()
            for header in resp.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    assert morsel["secure"] and morsel["httponly"] and morsel["samesite"] == "Strict"
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
        finally:
            conn.close()
        m = re.search(r'name="csrf" value="([^"]+)"', text)
        if m:
            self.csrf = m.group(1)
        return resp, text

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, form_data=None, **kwargs):
        return self.request("POST", path, form_data, **kwargs)

    def sign_in(self, username: str, secret: str):
        from bot.staff import totp

        resp, body = self.get("/staff/login")
        assert resp.status == 200
        token = re.search(r'name="login_token" value="([^"]+)"', body).group(1)
        return self.post("/staff/login", {"login_token": token, "username": username, "password": PASSWORD,
                                          "code": totp.code_at(secret, time.time())}, csrf=False)


def record_id(queue_html: str, reference: str) -> int:
    m = re.search(r'href="/staff/records/(\d+)">' + re.escape(reference) + "<", queue_html)
    assert m, f"{reference} is not in the queue"
    return int(m.group(1))


def dd(html: str, label: str) -> str:
    """The <dd> that follows a <dt> with this label."""
    m = re.search(r"<dt>" + re.escape(label) + r"</dt>\s*<dd>(.*?)</dd>", html, re.S)
    assert m, f"no {label!r} on the page"
    return m.group(1)


# ---------------------------------------------------------------- end to end

@pytest.mark.stack
def test_booking_from_the_chat_worked_through_the_dashboard(stack):
    from bot.staff import store
    from bot.storage.bookings import get_booking

    reference = book(stack, CHOSEN_BOOKING)
    username, secret = create_staff(stack, "caseworker")
    c = Client(stack)

    # Nothing without a session.
    resp, body = c.get("/staff/")
    assert resp.status == 303 and resp.getheader("Location") == "/staff/login"

    resp, body = c.sign_in(username, secret)
    assert resp.status == 303 and resp.getheader("Location") == "/staff/", body[:500]
    assert "__Host-staff" in c.cookies and "__Host-staff-login" not in c.cookies

    # The queue: the booking is there, high priority (children in the home), no personal data.
    resp, queue_html = c.get("/staff/")
    assert resp.status == 200 and "Callback queue" in queue_html
    assert resp.getheader("Cache-Control") == "no-store"
    assert "frame-ancestors 'none'" in resp.getheader("Content-Security-Policy")
    booking_id = record_id(queue_html, reference)
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*" + re.escape(reference) + r".*?</tr>", queue_html, re.S).group(0)
    assert "<strong>High</strong>" in row and "Callback booking" in row and "WEB" in row
    for secret_value in (NAME, "Rosalind", "Queuetest", PHONE_E164, PHONE_TYPED, "900862", "900 862", NOTE,
                         "Quillfeather", WORDING, "library", COVER, "dental", "Polish", "interpreter"):
        assert secret_value not in queue_html, f"{secret_value!r} in the queue list"

    # Opening it: decrypted only here, with an audit row; safe-call instructions first and correct.
    before = db(stack, lambda e: store.audit_entries(e, booking_id=booking_id))
    resp, page = c.get(f"/staff/records/{booking_id}")
    assert resp.status == 200
    assert NAME in page and PHONE_E164 in page and NOTE in page
    after = db(stack, lambda e: store.audit_entries(e, booking_id=booking_id))
    viewed = [a for a in after if a["action"] == "viewed"]
    assert len(after) == len(before) + 1 and len(viewed) == 1
    assert viewed[0]["actor"] == username and viewed[0]["detail"] is None
    assert page.index("Before you call") < page.index("Name to ask for")
    safe_call = page[page.index('<section class="safe-call"'):page.index("</section>", page.index('class="safe-call"'))]
    assert f"A voicemail is OK. Leave only this message, exactly: <q class=\"verbatim\">{WORDING}</q>" in dd(
        safe_call, "Voicemail")
    assert "Yes: send a short text first" in dd(safe_call, "Text before calling")
    assert f"Say only this, exactly: <q class=\"verbatim\">{COVER}</q>" in dd(safe_call, "If someone else answers")
    assert dd(safe_call, "Preferred worker") == "A woman"
    assert "Polish" in dd(safe_call, "Language")
    assert "An interpreter is needed" in dd(safe_call, "Interpreter or BSL")
    assert dd(safe_call, "Children in the home") == '<strong class="warn">Yes</strong>'
    assert dd(safe_call, "Afraid of being seriously hurt") == "No"
    assert "Do not leave a voicemail" not in page and "Hang up" not in page
    assert dd(page, "Contact settings") == "Chosen one by one"

    # A state change without the CSRF token, or from another origin, is refused and changes nothing.
    resp, _ = c.post(f"/staff/records/{booking_id}/claim", csrf=False)
    assert resp.status == 403
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
    conn.request("POST", f"/staff/records/{booking_id}/claim", body=urllib.parse.urlencode({"csrf": c.csrf}),
                 headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example",
                          "Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items())})
    assert conn.getresponse().status == 403
    conn.close()
    assert db(stack, lambda e: get_booking(e, reference)).status == "new"

    # Claim, record an attempt, complete.
    resp, _ = c.post(f"/staff/records/{booking_id}/claim")
    assert resp.status == 303 and resp.getheader("Location") == f"/staff/records/{booking_id}"
    resp, queue_html = c.get("/staff/")
    assert f"claimed ({username})" in queue_html
    resp, _ = c.post(f"/staff/records/{booking_id}/attempt", {"outcome": "no_answer", "note": "Rang once, no answer."})
    assert resp.status == 303
    resp, page = c.get(f"/staff/records/{booking_id}")
    assert "No answer" in page and "Rang once, no answer." in page
    resp, _ = c.post(f"/staff/records/{booking_id}/complete", {"outcome": "advice"})
    assert resp.status == 303

    booking = db(stack, lambda e: get_booking(e, reference))
    assert booking.status == "completed" and booking.outcome == "advice"
    assert booking.first_attempt_at is not None and booking.completed_at is not None
    assert [a.outcome for a in booking.attempts] == ["no_answer"]
    resp, open_html = c.get("/staff/")
    assert reference not in open_html
    resp, done_html = c.get("/staff/?view=done")
    assert reference in done_html and NAME not in done_html
    actions = [a["action"] for a in db(stack, lambda e: store.audit_entries(e, booking_id=booking_id))]
    for action in ("viewed", "claimed", "attempt", "completed"):
        assert action in actions
    entries = db(stack, lambda e: store.audit_entries(e, booking_id=booking_id))
    assert not any(NAME in str(a.get("detail") or "") or "Rang" in str(a.get("detail") or "") for a in entries)

    # Reports: a caseworker sees the page, the CSV is for leads.
    assert c.get("/staff/reports")[0].status == 200
    assert c.get("/staff/reports.csv")[0].status == 403
    assert c.get("/staff/audit")[0].status == 403

    # Sign out: the session is gone on the server.
    stolen = dict(c.cookies)
    resp, _ = c.post("/staff/logout")
    assert resp.status == 303 and "__Host-staff" not in c.cookies
    c.cookies = stolen
    assert c.get("/staff/")[0].status == 303

    # Nothing personal reached any process log.
    logs = "".join(p.read_text(errors="replace") for p in Path(stack.log_dir).glob("*.log"))
    for secret_value in (NAME, "Queuetest", "900 862", "7700900862", "Quillfeather", WORDING, "dental surgery",
                         "Rang once"):
        assert secret_value not in logs, f"{secret_value!r} appeared in a process log"


@pytest.mark.stack
@pytest.mark.browser
def test_staff_dashboard_in_a_real_browser(stack):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium chromium-driver` (.ci/run does)")
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        pytest.fail("node_modules is missing: run `npm ci` (make test does)")
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed")
    reference = book(stack, DEFAULT_BOOKING)
    username, secret = create_staff(stack, "caseworker")
    env = dict(os.environ)
    env.update(STAFF_URL=stack.url, STAFF_USER=username, STAFF_PASSWORD=PASSWORD, STAFF_TOTP_SECRET=secret,
               STAFF_REFERENCE=reference, CHROMIUM=CHROMIUM)
    proc = subprocess.run(
        [node, "--test", "--test-concurrency=1", "--test-reporter=spec", "tests/browser/staff.test.mjs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    print(proc.stdout)
    print(proc.stderr)
    assert proc.returncode == 0, f"staff browser test failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    assert "# skipped 0" in proc.stdout or "ℹ skipped 0" in proc.stdout, "the browser test was skipped"
