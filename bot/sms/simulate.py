"""Send a signed test SMS to a running gateway (offline mode, no Twilio account needed).

    python -m bot.sms.simulate "hello"                   # from 07700 900000 (an Ofcom drama number)
    python -m bot.sms.simulate --from 07700900123 "STOP"
    python -m bot.sms.simulate --url http://127.0.0.1:8080 "report"

The request is signed exactly as Twilio signs it, with TWILIO_AUTH_TOKEN or, in development without
one, the development token the gateway derives from SENDER_HASH_KEY, over PUBLIC_BASE_URL (or the
local address) plus the path. Prints each SMS of the TwiML reply.
"""
from __future__ import annotations

import argparse
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from xml.etree import ElementTree


def main(argv=None) -> int:
    from twilio.request_validator import RequestValidator

    from bot.settings import load_settings
    from bot.sms import gsm, webhook

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("body")
    parser.add_argument("--from", dest="sender", default="+447700900000")
    parser.add_argument("--url", default=None, help="where the gateway listens (default: from settings)")
    args = parser.parse_args(argv)
    settings = load_settings()
    local = args.url or f"http://{settings.host}:{settings.port}"
    signed = webhook.public_base(settings) + webhook.INCOMING_PATH
    form = {"MessageSid": "SM" + secrets.token_hex(16), "From": args.sender, "To": "+447700900999",
            "Body": args.body}
    signature = RequestValidator(webhook.auth_token(settings)).compute_signature(signed, form)
    req = urllib.request.Request(local.rstrip("/") + webhook.INCOMING_PATH, data=urllib.parse.urlencode(form).encode(),
                                 headers={"X-Twilio-Signature": signature,
                                          "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            xml = resp.read()
    except urllib.error.HTTPError as err:
        print(f"HTTP {err.code}", file=sys.stderr)
        return 1
    messages = [m.text or "" for m in ElementTree.fromstring(xml).iter("Message")]
    if not messages:
        print("(no reply)")
    for i, body in enumerate(messages, 1):
        print(f"--- SMS {i} ({gsm.segments(body)} segment(s))\n{body}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
