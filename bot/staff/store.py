"""Staff accounts, server-side sessions, used TOTP steps, sign-in throttling and the audit log.

Every function takes the engine and, where time matters, `now` (an aware UTC datetime), so tests can
drive the clock. Session tokens are never stored: the table holds their SHA-256, so a copy of the
database does not hand out live sessions. Nothing here logs or stores personal data of the people
who ask for help; the audit log records who did what to which record, never the contents.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.models import StaffAudit, StaffLoginFailure, StaffSession, StaffTotpUsed, StaffUser

ROLES = ("caseworker", "lead")
IDLE_TIMEOUT = dt.timedelta(minutes=15)
ABSOLUTE_TIMEOUT = dt.timedelta(hours=8)
# Sign-in throttling (OWASP ASVS 2.2.1). A failure counts against an account only when its password
# was checked; an attempt refused unchecked counts against the client address only. An account, and
# each (account, client address) pair, waits longer after every further failure (exponential
# back-off with a cap) instead of being locked, so a stranger cannot hold it shut; one address is
# held back long before it could hold back the whole account. A lead can unlock (users page, or
# `python -m bot.cli unlock-user`). Every address has a plain rate limit as well.
FAILURE_WINDOW = dt.timedelta(hours=1)  # how long a checked failure counts
ADDRESS_WINDOW = dt.timedelta(minutes=15)
ADDRESS_FAILURE_LIMIT = 20  # failed or refused attempts from one address, whatever the account
PASSWORD_CHECKS_PER_SESSION = 5  # wrong current passwords on the change-password page end the session
USERNAME_MAX = 64


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()[:USERNAME_MAX]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    active: bool

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


@dataclass(frozen=True)
class SessionInfo:
    user: User
    csrf_token: str
    created_at: dt.datetime
    token_hash: str


def _user(row) -> User:
    return User(id=row.id, username=row.username, role=row.role, active=bool(row.active))


# ---------------------------------------------------------------- users

class UserError(ValueError):
    pass


async def create_user(engine: AsyncEngine, username: str, role: str, password_hash: str, totp_secret: str,
                      now: Optional[dt.datetime] = None) -> User:
    username = normalise_username(username)
    if not username or not all(ch.isalnum() or ch in "._-" for ch in username):
        raise UserError("User names use letters, digits, dots, dashes and underscores only.")
    if role not in ROLES:
        raise UserError(f"Role must be one of {', '.join(ROLES)}.")
    now = now or utcnow()
    try:
        async with engine.begin() as conn:
            result = await conn.execute(StaffUser.__table__.insert().values(
                username=username, role=role, password_hash=password_hash, totp_secret=totp_secret,
                active=True, created_at=now, password_changed_at=now,
            ))
            user_id = result.inserted_primary_key[0]
            await _audit(conn, now, None, "user_created", target_user_id=user_id, detail=role)
    except IntegrityError:
        raise UserError("That user name is taken.") from None
    return User(user_id, username, role, True)


async def get_user(engine: AsyncEngine, user_id: int) -> Optional[User]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(StaffUser).where(StaffUser.id == user_id))).first()
    return _user(row) if row else None


async def find_user(engine: AsyncEngine, username: str) -> Optional[User]:
    async with engine.connect() as conn:
        row = (await conn.execute(select(StaffUser).where(StaffUser.username == normalise_username(username)))).first()
    return _user(row) if row else None


async def credentials(engine: AsyncEngine, username: str):
    """(user, password_hash, totp_secret) for sign-in, or (None, None, None)."""
    async with engine.connect() as conn:
        row = (await conn.execute(
            select(StaffUser).where(StaffUser.username == normalise_username(username))
        )).first()
    if row is None:
        return None, None, None
    return _user(row), row.password_hash, row.totp_secret


async def list_users(engine: AsyncEngine) -> List[dict]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(
            StaffUser.id, StaffUser.username, StaffUser.role, StaffUser.active, StaffUser.last_login_at,
            StaffUser.created_at,
        ).order_by(StaffUser.username))).all()
    return [dict(r._mapping, last_login_at=aware(r.last_login_at), created_at=aware(r.created_at)) for r in rows]


async def set_password(engine: AsyncEngine, user_id: int, password_hash: str, actor_id: Optional[int],
                       now: Optional[dt.datetime] = None) -> None:
    """New password: every session of the user is revoked (the caller may then start a fresh one)."""
    now = now or utcnow()
    async with engine.begin() as conn:
        await conn.execute(update(StaffUser).where(StaffUser.id == user_id)
                           .values(password_hash=password_hash, password_changed_at=now))
        await conn.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        await _audit(conn, now, actor_id, "password_changed", target_user_id=user_id)


async def set_totp_secret(engine: AsyncEngine, user_id: int, secret: str, actor_id: Optional[int],
                          now: Optional[dt.datetime] = None) -> None:
    now = now or utcnow()
    async with engine.begin() as conn:
        await conn.execute(update(StaffUser).where(StaffUser.id == user_id).values(totp_secret=secret))
        await conn.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        await conn.execute(delete(StaffTotpUsed).where(StaffTotpUsed.user_id == user_id))
        await _audit(conn, now, actor_id, "totp_reset", target_user_id=user_id)


async def set_active(engine: AsyncEngine, user_id: int, active: bool, actor_id: Optional[int],
                     now: Optional[dt.datetime] = None) -> None:
    now = now or utcnow()
    async with engine.begin() as conn:
        await conn.execute(update(StaffUser).where(StaffUser.id == user_id).values(active=active))
        if not active:
            await conn.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        await _audit(conn, now, actor_id, "user_activated" if active else "user_deactivated",
                     target_user_id=user_id)


async def set_role(engine: AsyncEngine, user_id: int, role: str, actor_id: Optional[int],
                   now: Optional[dt.datetime] = None) -> None:
    if role not in ROLES:
        raise UserError("Unknown role.")
    now = now or utcnow()
    async with engine.begin() as conn:
        await conn.execute(update(StaffUser).where(StaffUser.id == user_id).values(role=role))
        await conn.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        await _audit(conn, now, actor_id, "role_changed", target_user_id=user_id, detail=role)


async def active_lead_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(StaffUser)
                                   .where(StaffUser.role == "lead", StaffUser.active.is_(True)))).scalar_one()


# ---------------------------------------------------------------- second factor

async def use_totp_step(engine: AsyncEngine, user_id: int, step: int, now: Optional[dt.datetime] = None) -> bool:
    """Record a TOTP time step as used. False if it (or a later step) was already used."""
    now = now or utcnow()
    try:
        async with engine.begin() as conn:
            latest = (await conn.execute(select(func.max(StaffTotpUsed.step))
                                         .where(StaffTotpUsed.user_id == user_id))).scalar()
            if latest is not None and step <= latest:
                return False
            await conn.execute(StaffTotpUsed.__table__.insert().values(user_id=user_id, step=step, used_at=now))
            # keep only recent steps; the max() above is what blocks replays
            await conn.execute(delete(StaffTotpUsed).where(StaffTotpUsed.user_id == user_id,
                                                           StaffTotpUsed.step < step - 10))
    except IntegrityError:  # the same code raced in twice: only one wins
        return False
    return True


# ---------------------------------------------------------------- sign-in throttling

def throttle_key(secret: bytes, kind: str, value: str) -> str:
    """Keyed hash of the user name or client address: the table never holds either in clear."""
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def account_key(secret: bytes, username: str) -> str:
    return throttle_key(secret, "account", normalise_username(username))


def address_key(secret: bytes, address: str) -> str:
    return throttle_key(secret, "address", address)


@dataclass(frozen=True)
class BackoffPolicy:
    """`free` checked failures within FAILURE_WINDOW cost nothing; after that each attempt waits
    `base`, doubling with every further failure, never more than `cap`, from the latest failure."""

    free: int
    base: dt.timedelta
    cap: dt.timedelta

    def delay(self, failures: int) -> dt.timedelta:
        if failures < self.free:
            return dt.timedelta(0)
        return min(self.base * (2 ** min(failures - self.free, 32)), self.cap)

    def held_until(self, times: Sequence[dt.datetime], now: dt.datetime) -> Optional[dt.datetime]:
        if not times:
            return None
        until = max(times) + self.delay(len(times))
        return until if until > now else None


# An account: 20 checked failures an hour from anywhere, then 30 s, 1, 2, 4, 8 and at most 15 minutes.
ACCOUNT_BACKOFF = BackoffPolicy(free=20, base=dt.timedelta(seconds=30), cap=dt.timedelta(minutes=15))
# One address for one account: 5, then 1, 2, 4, 8 and at most 15 minutes, so one address alone gets
# at most 11 checked guesses in any hour and cannot hold back the account for its owner.
PAIR_BACKOFF = BackoffPolicy(free=5, base=dt.timedelta(minutes=1), cap=dt.timedelta(minutes=15))


@dataclass(frozen=True)
class AccountState:
    """What leads see on the users page: never an address, only how many."""

    failures: int  # checked failures in the last FAILURE_WINDOW
    addresses: int  # how many client addresses they came from
    held_until: Optional[dt.datetime]  # the account waits until then; None: it may try now
    addresses_held: int  # addresses waiting for this account (the per-(account, address) limit)

    @property
    def unlockable(self) -> bool:
        return self.failures > 0


async def _account_failures(conn, keys: Sequence[str], now: dt.datetime) -> list:
    return (await conn.execute(
        select(StaffLoginFailure.key, StaffLoginFailure.at, StaffLoginFailure.address)
        .where(StaffLoginFailure.kind == "account", StaffLoginFailure.key.in_(list(keys)),
               StaffLoginFailure.at > now - FAILURE_WINDOW)
    )).all()


def _state(rows, now: dt.datetime) -> AccountState:
    times = [aware(r.at) for r in rows]
    by_address: dict = {}
    for r in rows:
        by_address.setdefault(r.address, []).append(aware(r.at))
    held = sum(1 for ts in by_address.values() if PAIR_BACKOFF.held_until(ts, now))
    return AccountState(failures=len(rows), addresses=len(by_address),
                        held_until=ACCOUNT_BACKOFF.held_until(times, now), addresses_held=held)


async def account_state(engine: AsyncEngine, account: str, now: dt.datetime) -> AccountState:
    async with engine.connect() as conn:
        return _state(await _account_failures(conn, [account], now), now)


async def account_states(engine: AsyncEngine, accounts: Dict[int, str], now: dt.datetime) -> Dict[int, AccountState]:
    """{user id: state} for {user id: account key}, in one query."""
    async with engine.connect() as conn:
        rows = await _account_failures(conn, list(accounts.values()), now) if accounts else []
    by_key: dict = {}
    for r in rows:
        by_key.setdefault(r.key, []).append(r)
    return {user_id: _state(by_key.get(key, []), now) for user_id, key in accounts.items()}


async def sign_in_refusal(engine: AsyncEngine, account: str, address: str, now: dt.datetime) -> Optional[str]:
    """Why an attempt must be refused without checking its password, or None when it may be checked:
    'address' (too many failed or refused attempts from this client address, whatever the account),
    'account' (the account is held back), 'pair' (this address is held back for this account)."""
    async with engine.connect() as conn:
        from_address = (await conn.execute(
            select(func.count()).select_from(StaffLoginFailure)
            .where(StaffLoginFailure.kind == "address", StaffLoginFailure.key == address,
                   StaffLoginFailure.at > now - ADDRESS_WINDOW)
        )).scalar_one()
        if from_address >= ADDRESS_FAILURE_LIMIT:
            return "address"
        rows = await _account_failures(conn, [account], now)
    if ACCOUNT_BACKOFF.held_until([aware(r.at) for r in rows], now):
        return "account"
    if PAIR_BACKOFF.held_until([aware(r.at) for r in rows if r.address == address], now):
        return "pair"
    return None


async def _prune_failures(conn, now: dt.datetime) -> None:
    await conn.execute(delete(StaffLoginFailure).where(StaffLoginFailure.at < now - FAILURE_WINDOW))


async def _insert_failure(conn, account: str, address: str, now: dt.datetime) -> None:
    await conn.execute(StaffLoginFailure.__table__.insert(), [
        {"kind": "account", "key": account, "at": now, "address": address},
        {"kind": "address", "key": address, "at": now, "address": None},
    ])
    await _prune_failures(conn, now)


async def record_refused(engine: AsyncEngine, address: str, now: dt.datetime) -> None:
    """An attempt refused unchecked: it counts against the client address only, never the account."""
    async with engine.begin() as conn:
        await conn.execute(StaffLoginFailure.__table__.insert().values(kind="address", key=address, at=now))
        await _prune_failures(conn, now)


async def record_failure(engine: AsyncEngine, account: str, address: str, now: dt.datetime,
                         user_id: Optional[int] = None) -> None:
    """A checked attempt that failed (wrong password or code, or an inactive or unknown account)."""
    async with engine.begin() as conn:
        await _insert_failure(conn, account, address, now)
        if user_id is not None:
            await _audit(conn, now, user_id, "sign_in_failed")


async def clear_account_failures(engine: AsyncEngine, account: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(StaffLoginFailure).where(StaffLoginFailure.kind == "account",
                                                           StaffLoginFailure.key == account))


async def unlock_account(engine: AsyncEngine, user_id: int, account: str, actor_id: Optional[int],
                         now: dt.datetime) -> int:
    """A lead (or the server's admin command) forgets the account's failures, from every address."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(StaffLoginFailure).where(StaffLoginFailure.kind == "account",
                                                                    StaffLoginFailure.key == account))
        await _audit(conn, now, actor_id, "user_unlocked", target_user_id=user_id)
    return result.rowcount or 0


async def record_password_check_failure(engine: AsyncEngine, info: "SessionInfo", account: str, address: str,
                                        now: dt.datetime) -> bool:
    """A wrong current password on the change-password page: counted against the account like a failed
    sign-in, audited, and counted for the session. True when that ended the session."""
    async with engine.begin() as conn:
        await _insert_failure(conn, account, address, now)
        await _audit(conn, now, info.user.id, "password_check_failed")
        await conn.execute(update(StaffSession).where(StaffSession.id == info.token_hash)
                           .values(password_failures=StaffSession.password_failures + 1))
        count = (await conn.execute(select(StaffSession.password_failures)
                                    .where(StaffSession.id == info.token_hash))).scalar()
        if count is None or count < PASSWORD_CHECKS_PER_SESSION:
            return count is None
        await conn.execute(delete(StaffSession).where(StaffSession.id == info.token_hash))
        await _audit(conn, now, info.user.id, "signed_out", detail="password_checks")
    return True


# ---------------------------------------------------------------- sessions

async def create_session(engine: AsyncEngine, user: User, now: dt.datetime) -> tuple:
    """A brand-new session (new id at every sign-in). Returns (token for the cookie, csrf token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    async with engine.begin() as conn:
        await conn.execute(StaffSession.__table__.insert().values(
            id=_token_hash(token), user_id=user.id, csrf_token=csrf, created_at=now, last_seen_at=now,
        ))
        await conn.execute(update(StaffUser).where(StaffUser.id == user.id).values(last_login_at=now))
        await _audit(conn, now, user.id, "signed_in")
    return token, csrf


async def load_session(engine: AsyncEngine, token: str, now: dt.datetime, touch: bool = True) -> Optional[SessionInfo]:
    """The live session for this cookie value, or None (unknown, idle too long, too old, user inactive).
    An expired session is deleted on sight."""
    if not token or len(token) > 128:
        return None
    token_hash = _token_hash(token)
    async with engine.begin() as conn:
        row = (await conn.execute(
            select(StaffSession.created_at, StaffSession.last_seen_at, StaffSession.csrf_token,
                   StaffUser.id, StaffUser.username, StaffUser.role, StaffUser.active)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.id == token_hash)
        )).first()
        if row is None:
            return None
        created, seen = aware(row.created_at), aware(row.last_seen_at)
        if not row.active or now - seen > IDLE_TIMEOUT or now - created > ABSOLUTE_TIMEOUT or now < created:
            await conn.execute(delete(StaffSession).where(StaffSession.id == token_hash))
            return None
        if touch:
            await conn.execute(update(StaffSession).where(StaffSession.id == token_hash).values(last_seen_at=now))
    return SessionInfo(User(row.id, row.username, row.role, bool(row.active)), row.csrf_token, created, token_hash)


async def revoke_session(engine: AsyncEngine, token_hash: str, actor_id: Optional[int], now: dt.datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(StaffSession).where(StaffSession.id == token_hash))
        await _audit(conn, now, actor_id, "signed_out")


async def revoke_user_sessions(engine: AsyncEngine, user_id: int, actor_id: Optional[int], now: dt.datetime) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(delete(StaffSession).where(StaffSession.user_id == user_id))
        await _audit(conn, now, actor_id, "sessions_revoked", target_user_id=user_id)
    return result.rowcount or 0


async def session_count(engine: AsyncEngine, user_id: int) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(StaffSession)
                                   .where(StaffSession.user_id == user_id))).scalar_one()


async def purge_sessions(engine: AsyncEngine, now: dt.datetime) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(StaffSession).where(
            (StaffSession.last_seen_at < now - IDLE_TIMEOUT) | (StaffSession.created_at < now - ABSOLUTE_TIMEOUT)
        ))
        await _prune_failures(conn, now)


# ---------------------------------------------------------------- audit log

async def _audit(conn, now: dt.datetime, user_id: Optional[int], action: str, booking_id: Optional[int] = None,
                 target_user_id: Optional[int] = None, detail: Optional[str] = None) -> None:
    await conn.execute(StaffAudit.__table__.insert().values(
        at=now, user_id=user_id, action=action, booking_id=booking_id, target_user_id=target_user_id,
        detail=(detail or None) and detail[:64],
    ))


async def audit(engine: AsyncEngine, now: dt.datetime, user_id: Optional[int], action: str,
                booking_id: Optional[int] = None, target_user_id: Optional[int] = None,
                detail: Optional[str] = None) -> None:
    async with engine.begin() as conn:
        await _audit(conn, now, user_id, action, booking_id, target_user_id, detail)


async def audit_entries(engine: AsyncEngine, limit: int = 200, offset: int = 0,
                        booking_id: Optional[int] = None) -> List[dict]:
    actor = StaffUser.__table__.alias("actor")
    target = StaffUser.__table__.alias("target")
    query = (select(StaffAudit.id, StaffAudit.at, StaffAudit.action, StaffAudit.booking_id, StaffAudit.detail,
                    actor.c.username.label("actor"), target.c.username.label("target"))
             .outerjoin(actor, actor.c.id == StaffAudit.user_id)
             .outerjoin(target, target.c.id == StaffAudit.target_user_id)
             .order_by(StaffAudit.id.desc()).limit(limit).offset(offset))
    if booking_id is not None:
        query = query.where(StaffAudit.booking_id == booking_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [dict(r._mapping, at=aware(r.at)) for r in rows]
