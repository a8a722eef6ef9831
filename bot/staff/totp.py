"""TOTP second factor (RFC 6238 via pyotp): 6 digits, 30-second steps, one step of clock drift.

`matching_step` returns the time step a code belongs to, so the caller can record that step as used:
each code is accepted once (ASVS 2.8.4), enforced by a unique (user, step) row in the database.
"""
from __future__ import annotations

import hmac
import io
from typing import Optional

import pyotp

ISSUER = "DA support staff"
DIGITS = 6
INTERVAL = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str, now: float) -> Optional[int]:
    """The time step (counter) this code is valid for at `now`, or None."""
    code = "".join(ch for ch in (code or "") if not ch.isspace())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    current = int(now) // INTERVAL
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # compare every candidate (no early exit) so timing does not reveal which one matched
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def code_at(secret: str, now: float) -> str:
    """The code for `now` (tests and the CLI self-check only)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).at(int(now))


def terminal_qr(data: str) -> str:
    """A QR code drawn with text characters, for the admin command's output."""
    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    qr.make(fit=True)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()
