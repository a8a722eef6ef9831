"""One place for every setting. Read from the environment (and an optional `.env`).

Every setting is documented in README.md ("Configuration"). In development mode, secret keys that are
not set are generated once into `var/keys.json` (mode 0600) and reused. In production mode a missing
or development key is an error: see `check_production`.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from cryptography.fernet import Fernet

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEV_KEYS_FILE = "keys.json"
DEVELOPMENT = "development"
PRODUCTION = "production"


class SettingsError(ValueError):
    """A setting is missing or invalid. The message says which and how to fix it."""


def _split(value: str) -> List[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    mode: str = DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = 8080
    var_dir: Path = ROOT / "var"
    profile_path: Path = ROOT / "profiles" / "example.yml"
    database_url: str = ""
    redis_url: str = ""
    rasa_urls: Tuple[str, ...] = ("http://127.0.0.1:5005",)
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout: float = 10.0
    rasa_dns_discovery: bool = False
    public_base_url: str = ""
    # Secrets. Fernet keys newest first: the first encrypts, all decrypt (MultiFernet).
    encryption_keys: Tuple[str, ...] = ()
    blind_index_key: str = ""
    sender_hash_key: str = ""
    gateway_token: str = ""
    session_secret: str = ""
    # Shared secret between Rasa and the action server (not generated into var/keys.json: the dev
    # stack makes a new one per run and gives it to both processes). See `require_action_server_token`.
    action_server_token: str = field(default="", repr=False)
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    purge_interval_seconds: int = 3600
    trusted_proxies: Tuple[str, ...] = ()
    log_level: str = "INFO"
    # Which secrets were generated for development (never acceptable in production).
    generated_keys: Tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_production(self) -> bool:
        return self.mode == PRODUCTION

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def twilio_offline(self) -> bool:
        """Without Twilio credentials the SMS channel runs offline: sends are recorded, not sent."""
        return not (self.twilio_account_sid and self.twilio_auth_token)

    @property
    def fernet_keys(self) -> List[bytes]:
        return [k.encode() for k in self.encryption_keys]

    @property
    def blind_index_key_bytes(self) -> bytes:
        return _decode_key(self.blind_index_key, "BLIND_INDEX_KEY")

    @property
    def sender_hash_key_bytes(self) -> bytes:
        return _decode_key(self.sender_hash_key, "SENDER_HASH_KEY")


def _decode_key(value: str, name: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except (ValueError, TypeError):
        raise SettingsError(f"{name} must be url-safe base64") from None
    if len(raw) < 32:
        raise SettingsError(f"{name} must decode to at least 32 bytes")
    return raw


def _new_secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


_SECRET_GENERATORS = {
    "ENCRYPTION_KEYS": lambda: Fernet.generate_key().decode(),
    "BLIND_INDEX_KEY": _new_secret,
    "SENDER_HASH_KEY": _new_secret,
    "GATEWAY_TOKEN": lambda: secrets.token_urlsafe(32),
    "SESSION_SECRET": _new_secret,
}


def _development_keys(var_dir: Path) -> Dict[str, str]:
    """Load development keys from var/keys.json, creating any that are missing. var/ holds the
    keys and the SQLite database: owner only (0700)."""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(var_dir, 0o700)
    path = var_dir / DEV_KEYS_FILE
    keys: Dict[str, str] = {}
    if path.exists():
        keys = json.loads(path.read_text())
    missing = [name for name in _SECRET_GENERATORS if not keys.get(name)]
    if missing:
        for name in missing:
            keys[name] = _SECRET_GENERATORS[name]()
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle, indent=2)
        os.replace(tmp, path)
        logger.warning(
            "Development mode: generated local keys %s into %s. Never use them in production.",
            ", ".join(missing),
            path,
        )
    return keys


def load_settings(env: Optional[Mapping[str, str]] = None, dotenv: bool = True) -> Settings:
    """Build settings from `env` (default: os.environ plus `.env` in the project root)."""
    if env is None:
        if dotenv:
            from dotenv import dotenv_values

            values = {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}
            values.update(os.environ)
            env = values
        else:
            env = dict(os.environ)

    mode = env.get("SERVICE_MODE", DEVELOPMENT).strip().lower()
    if mode not in (DEVELOPMENT, PRODUCTION):
        raise SettingsError(f"SERVICE_MODE must be 'development' or 'production', got {mode!r}")

    var_dir = Path(env.get("VAR_DIR") or ROOT / "var")
    if not var_dir.is_absolute():
        var_dir = ROOT / var_dir
    profile_path = Path(env.get("PROFILE_PATH") or ROOT / "profiles" / "example.yml")
    if not profile_path.is_absolute():
        profile_path = ROOT / profile_path

    secrets_from_env = {name: env.get(name, "").strip() for name in _SECRET_GENERATORS}
    generated: List[str] = []
    if mode == DEVELOPMENT and not all(secrets_from_env.values()):
        dev = _development_keys(var_dir)
        for name, value in secrets_from_env.items():
            if not value:
                secrets_from_env[name] = dev[name]
                generated.append(name)

    database_url = env.get("DATABASE_URL", "").strip() or f"sqlite+aiosqlite:///{var_dir / 'app.db'}"
    rasa_urls = tuple(u.rstrip("/") for u in _split(env.get("RASA_URLS", "http://127.0.0.1:5005")))
    if not rasa_urls:
        raise SettingsError("RASA_URLS must list at least one Rasa server URL")

    settings = Settings(
        mode=mode,
        host=env.get("HOST", "127.0.0.1"),
        port=_int(env, "PORT", 8080, minimum=1),
        var_dir=var_dir,
        profile_path=profile_path,
        database_url=database_url,
        redis_url=env.get("REDIS_URL", "").strip(),
        rasa_urls=rasa_urls,
        action_server_url=env.get("ACTION_SERVER_URL", "http://127.0.0.1:5055").rstrip("/"),
        rasa_timeout=_float(env, "RASA_TIMEOUT", 10.0),
        rasa_dns_discovery=env.get("RASA_DNS_DISCOVERY", "").strip().lower() in ("1", "true", "yes"),
        public_base_url=env.get("PUBLIC_BASE_URL", "").strip().rstrip("/"),
        encryption_keys=tuple(_split(secrets_from_env["ENCRYPTION_KEYS"])),
        blind_index_key=secrets_from_env["BLIND_INDEX_KEY"],
        sender_hash_key=secrets_from_env["SENDER_HASH_KEY"],
        gateway_token=secrets_from_env["GATEWAY_TOKEN"],
        session_secret=secrets_from_env["SESSION_SECRET"],
        action_server_token=env.get("ACTION_SERVER_TOKEN", "").strip(),
        twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", "").strip(),
        twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", "").strip(),
        twilio_from_number=env.get("TWILIO_FROM_NUMBER", "").strip(),
        purge_interval_seconds=_int(env, "PURGE_INTERVAL_SECONDS", 3600, minimum=1),
        trusted_proxies=tuple(_split(env.get("TRUSTED_PROXIES", ""))),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        generated_keys=tuple(generated),
    )
    _validate_keys(settings)
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(f"TRUSTED_PROXIES entry {proxy!r} is not an IP address or network") from None
    return settings


def _validate_keys(settings: Settings) -> None:
    if not settings.encryption_keys:
        raise SettingsError("ENCRYPTION_KEYS must hold at least one Fernet key")
    for i, key in enumerate(settings.encryption_keys):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise SettingsError(
                f"ENCRYPTION_KEYS entry {i + 1} is not a valid Fernet key "
                "(generate one with `python -m bot.cli generate-key`)"
            ) from None
    settings.blind_index_key_bytes
    settings.sender_hash_key_bytes


ACTION_TOKEN_MIN = 32
# RFC 6750 b64token: it travels as `Authorization: Bearer <token>`.
_ACTION_TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def require_action_server_token(settings: Settings) -> str:
    """The shared secret every request to the action server must carry, in development and production
    alike. Raises SettingsError, saying what to do, when it is missing, short or not header-safe."""
    token = settings.action_server_token
    how = ("`make run` and the test stack generate one per run; otherwise set ACTION_SERVER_TOKEN to the "
           "same value for Rasa and the action server, e.g. the output of "
           "python3 -c \"import secrets; print(secrets.token_urlsafe(32))\"")
    if not token:
        raise SettingsError(f"ACTION_SERVER_TOKEN is missing; the action server needs it ({how})")
    if len(token) < ACTION_TOKEN_MIN:
        raise SettingsError(
            f"ACTION_SERVER_TOKEN is too short: it needs at least {ACTION_TOKEN_MIN} characters ({how})")
    if not _ACTION_TOKEN_RE.fullmatch(token):
        raise SettingsError(
            f"ACTION_SERVER_TOKEN may hold only letters, digits and - . _ ~ + / then = padding ({how})")
    return token


def production_problems(settings: Settings) -> List[str]:
    """What stops these settings from being safe in production (empty when they are)."""
    problems = []
    if settings.generated_keys:
        problems.append(
            "development keys in use for " + ", ".join(settings.generated_keys) + ": set them"
        )
    dev_file = settings.var_dir / DEV_KEYS_FILE
    if dev_file.exists():
        dev = json.loads(dev_file.read_text())
        reused = [
            name
            for name, value in (
                ("ENCRYPTION_KEYS", ",".join(settings.encryption_keys)),
                ("BLIND_INDEX_KEY", settings.blind_index_key),
                ("SENDER_HASH_KEY", settings.sender_hash_key),
                ("GATEWAY_TOKEN", settings.gateway_token),
                ("SESSION_SECRET", settings.session_secret),
            )
            if dev.get(name) and dev[name] in value
        ]
        if reused:
            problems.append("development keys reused from var/keys.json: " + ", ".join(reused))
    if settings.uses_sqlite:
        problems.append("DATABASE_URL points at SQLite: production needs PostgreSQL")
    if not settings.twilio_auth_token:
        problems.append("TWILIO_AUTH_TOKEN is missing")
    if not settings.public_base_url:
        problems.append("PUBLIC_BASE_URL is missing")
    elif not settings.public_base_url.startswith("https://"):
        problems.append("PUBLIC_BASE_URL must start with https://")
    return problems


def check_production(settings: Settings) -> None:
    """Refuse to start in production mode with unsafe settings, saying which."""
    if settings.is_production:
        problems = production_problems(settings)
        if problems:
            raise SettingsError("Refusing to start in production mode: " + "; ".join(problems))
