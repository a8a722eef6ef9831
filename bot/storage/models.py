"""Table definitions. Change them only together with a new Alembic migration (`make migration`)."""
from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

# Stable constraint names, so migrations behave the same on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Base = declarative_base(metadata=metadata)


class EscalationCount(Base):
    """Emergency escalations per day and channel: a number only, never any text."""

    __tablename__ = "escalation_counts"
    __table_args__ = (UniqueConstraint("day", "channel", name="uq_escalation_counts_day_channel"),)

    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    channel = Column(String(16), nullable=False)
    count = Column(Integer, nullable=False, default=0)


# --- Callback bookings (issue 5, migration 0002) -------------------------------------------------
# Personal fields are encrypted at rest (bot/storage/crypto.py); the phone number is also kept as an
# HMAC blind index so repeat requests are visible without decrypting. Staff users and the audit log
# come with the staff-queue migration (0003), which may add a foreign key for claimed_by and
# contact_attempts.staff_user_id.
from sqlalchemy import CheckConstraint, ForeignKey  # noqa: E402
from sqlalchemy.orm import relationship  # noqa: E402

from bot.storage.crypto import EncryptedJSON, EncryptedText  # noqa: E402
from bot.storage.types import UTCDateTime  # noqa: E402

BOOKING_KINDS = ("callback", "third_party_report")
BOOKING_STATUSES = ("new", "claimed", "attempted", "completed", "closed")
BOOKING_CHANNELS = ("web", "sms")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(_in("kind", BOOKING_KINDS), name="kind"),
        CheckConstraint(_in("status", BOOKING_STATUSES), name="status"),
        CheckConstraint(_in("channel", BOOKING_CHANNELS), name="channel"),
    )

    id = Column(Integer, primary_key=True)
    reference = Column(String(64), nullable=False, unique=True)
    kind = Column(String(24), nullable=False, default="callback")
    status = Column(String(16), nullable=False, default="new", index=True)
    priority = Column(Integer, nullable=False, default=0)
    channel = Column(String(8), nullable=False)
    idempotency_key = Column(String(64), nullable=False, unique=True)
    phone_blind_index = Column(String(64), nullable=True, index=True)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)
    claimed_at = Column(UTCDateTime, nullable=True)
    claimed_by = Column(Integer, nullable=True)
    first_attempt_at = Column(UTCDateTime, nullable=True)
    completed_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    # Encrypted personal fields.
    name = Column(EncryptedText, nullable=True)
    phone = Column(EncryptedText, nullable=True)
    note = Column(EncryptedText, nullable=True)
    voicemail_wording = Column(EncryptedText, nullable=True)
    cover_story = Column(EncryptedText, nullable=True)
    details = Column(EncryptedJSON, nullable=True)  # preferences, safety answers, third-party details

    windows = relationship("BookingWindow", cascade="all, delete-orphan", passive_deletes=True,
                           order_by="BookingWindow.start_utc")
    attempts = relationship("ContactAttempt", cascade="all, delete-orphan", passive_deletes=True,
                            order_by="ContactAttempt.at")


class BookingWindow(Base):
    """A time that is safe to call: UTC instants plus the person's local timezone."""

    __tablename__ = "booking_windows"

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False, index=True)
    start_utc = Column(UTCDateTime, nullable=False)
    end_utc = Column(UTCDateTime, nullable=False)
    tz = Column(String(64), nullable=False, default="Europe/London")


class ContactAttempt(Base):
    __tablename__ = "contact_attempts"

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False)
    outcome = Column(String(32), nullable=False)
    note = Column(EncryptedText, nullable=True)
    staff_user_id = Column(Integer, nullable=True)


class PurgeCount(Base):
    """How many bookings the retention purge deleted, per day, kind and reason: numbers only."""

    __tablename__ = "purge_counts"
    __table_args__ = (UniqueConstraint("day", "kind", "reason", name="uq_purge_counts_day_kind_reason"),)

    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    kind = Column(String(24), nullable=False)
    reason = Column(String(16), nullable=False)  # 'closed' or 'untouched'
    count = Column(Integer, nullable=False, default=0)


# --- SMS channel (migration 0004). Phone numbers are never stored: only an HMAC-SHA256 of the E.164
# number with SENDER_HASH_KEY (the same value that keys the conversation). Times are naive UTC.


class SmsProcessed(Base):
    """Incoming MessageSids already handled (as an HMAC), so Twilio's retries never get a second
    reply. Inserted before the message is processed: the unique key settles concurrent duplicates."""

    __tablename__ = "sms_processed"

    sid_hash = Column(String(64), primary_key=True)
    received_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False, index=True)


class SmsOptOut(Base):
    """Numbers (as an HMAC) that texted STOP and get nothing more until START."""

    __tablename__ = "sms_opt_outs"

    number_hash = Column(String(64), primary_key=True)
    opted_out_at = Column(DateTime, nullable=False)


class SmsNotice(Base):
    """Numbers (as an HMAC) already told that texts stay on the phone."""

    __tablename__ = "sms_notices"

    number_hash = Column(String(64), primary_key=True)
    sent_at = Column(DateTime, nullable=False)


class SmsChoice(Base):
    """The numbered options last offered to a number: reply "1" means the first payload. Short-lived."""

    __tablename__ = "sms_choices"

    number_hash = Column(String(64), primary_key=True)
    payloads = Column(Text, nullable=False)  # JSON list of button payloads (domain payloads, no text)
    expires_at = Column(DateTime, nullable=False, index=True)


class SmsDeliveryFailure(Base):
    """Failed or undelivered outbound SMS per day and Twilio error code: a number only."""

    __tablename__ = "sms_delivery_failures"
    __table_args__ = (UniqueConstraint("day", "error_code", name="uq_sms_delivery_failures_day_error_code"),)

    id = Column(Integer, primary_key=True)
    day = Column(Date, nullable=False)
    error_code = Column(String(16), nullable=False)
    count = Column(Integer, nullable=False, default=0)


class SmsOutbound(Base):
    """Outbound sends: recorded (offline mode), sent, blocked (opted out) or failed. No body, no
    number: the recipient's HMAC, the length and the segment count."""

    __tablename__ = "sms_outbound"

    id = Column(Integer, primary_key=True)
    number_hash = Column(String(64), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    status = Column(String(16), nullable=False)
    septets = Column(Integer, nullable=False)
    segments = Column(Integer, nullable=False)
    purpose = Column(String(32), nullable=False, default="message")


# --- Staff dashboard (issue 8, migration 0003) ----------------------------------------------------
# Staff accounts, server-side sessions, used TOTP steps, sign-in failures, the audit log, booking notes
# and anonymous per-booking statistics that outlive the retention purge. See bot/staff/.
from sqlalchemy import BigInteger, Boolean, PrimaryKeyConstraint  # noqa: E402

STAFF_ROLES = ("caseworker", "lead")
BOOKING_OUTCOMES = ("advice", "safety_plan", "idva", "marac", "housing", "sanctuary", "police", "other")

# How a completed booking ended (one of BOOKING_OUTCOMES); a code, never free text.
Booking.outcome = Column(String(32), nullable=True)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="role"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    role = Column(String(16), nullable=False)
    password_hash = Column(String(255), nullable=False)
    totp_secret = Column(EncryptedText, nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False)
    password_changed_at = Column(UTCDateTime, nullable=False)
    last_login_at = Column(UTCDateTime, nullable=True)


class StaffSession(Base):
    """A signed-in session. `id` is the SHA-256 of the cookie value, never the value itself."""

    __tablename__ = "staff_sessions"

    id = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False)
    # wrong current passwords given on the change-password page (migration 0005); the session ends at
    # bot/staff/store.PASSWORD_CHECKS_PER_SESSION
    password_failures = Column(Integer, nullable=False, default=0, server_default="0")


class StaffTotpUsed(Base):
    """TOTP time steps already accepted for a user: each code signs in once."""

    __tablename__ = "staff_totp_used"
    __table_args__ = (PrimaryKeyConstraint("user_id", "step", name="pk_staff_totp_used"),)

    user_id = Column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False)
    step = Column(BigInteger, nullable=False)
    used_at = Column(UTCDateTime, nullable=False)


class StaffLoginFailure(Base):
    """Failed sign-ins, keyed by an HMAC of the user name or client address (never either in clear).
    An 'account' row is a checked failure (the password was verified and was wrong, or the code was);
    `address` (migration 0005) is the HMAC of the address it came from, for the per-(account, address)
    limit. An 'address' row is any failed or refused attempt from that address."""

    __tablename__ = "staff_login_failures"

    id = Column(Integer, primary_key=True)
    kind = Column(String(8), nullable=False)  # 'account' or 'address'
    key = Column(String(64), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    address = Column(String(64), nullable=True)


class StaffAudit(Base):
    """Who did what, when, to which record or account. Never any contents."""

    __tablename__ = "staff_audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, index=True)
    user_id = Column(Integer, ForeignKey("staff_users.id"), nullable=True, index=True)
    action = Column(String(32), nullable=False)
    booking_id = Column(Integer, nullable=True, index=True)  # no foreign key: the audit outlives purges
    target_user_id = Column(Integer, ForeignKey("staff_users.id"), nullable=True)
    detail = Column(String(64), nullable=True)  # a code (role, outcome), never free text


class BookingNote(Base):
    """A caseworker's note on a booking: encrypted, deleted with the booking."""

    __tablename__ = "booking_notes"

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False, index=True)
    author_id = Column(Integer, ForeignKey("staff_users.id"), nullable=True)
    at = Column(UTCDateTime, nullable=False)
    text = Column(EncryptedText, nullable=False)


class BookingStat(Base):
    """Numbers and timestamps only, copied from each booking so the monthly response-time report
    survives the retention purge. Keyed by (booking id, created_at) because SQLite can reuse ids."""

    __tablename__ = "booking_stats"
    __table_args__ = (UniqueConstraint("booking_id", "created_at", name="uq_booking_stats_booking_id"),)

    id = Column(Integer, primary_key=True)
    booking_id = Column(Integer, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, index=True)
    kind = Column(String(24), nullable=False)
    channel = Column(String(8), nullable=False)
    high_priority = Column(Boolean, nullable=False, default=False)
    first_attempt_at = Column(UTCDateTime, nullable=True)
    completed_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    outcome = Column(String(32), nullable=True)
    purged = Column(Boolean, nullable=False, default=False)
