import json
import stat

import pytest
from cryptography.fernet import Fernet

from bot.settings import SettingsError, check_production, load_settings, production_problems


def env(tmp_path, **extra):
    base = {"VAR_DIR": str(tmp_path / "var"), "PROFILE_PATH": "profiles/example.yml"}
    base.update(extra)
    return base


def test_development_generates_keys_once_and_privately(tmp_path):
    first = load_settings(env(tmp_path), dotenv=False)
    keys_file = tmp_path / "var" / "keys.json"
    assert keys_file.exists()
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert set(first.generated_keys) == {"ENCRYPTION_KEYS", "BLIND_INDEX_KEY", "SENDER_HASH_KEY",
                                         "GATEWAY_TOKEN", "SESSION_SECRET"}
    second = load_settings(env(tmp_path), dotenv=False)
    assert first.encryption_keys == second.encryption_keys
    assert first.gateway_token == second.gateway_token
    assert first.database_url.startswith("sqlite+aiosqlite:///") and "var/app.db" in first.database_url


def test_explicit_values_win_and_are_validated(tmp_path):
    key = Fernet.generate_key().decode()
    s = load_settings(env(tmp_path, ENCRYPTION_KEYS=key, PORT="9090",
                          RASA_URLS="http://a:5005/, http://b:5005"), dotenv=False)
    assert s.encryption_keys == (key,) and s.port == 9090
    assert s.rasa_urls == ("http://a:5005", "http://b:5005")
    assert "ENCRYPTION_KEYS" not in s.generated_keys


@pytest.mark.parametrize("name,value,fragment", [
    ("PORT", "eighty", "PORT must be a whole number"),
    ("PORT", "0", "PORT must be at least 1"),
    ("RASA_TIMEOUT", "-1", "RASA_TIMEOUT must be positive"),
    ("SERVICE_MODE", "staging", "SERVICE_MODE"),
    ("ENCRYPTION_KEYS", "not-a-key", "not a valid Fernet key"),
    ("BLIND_INDEX_KEY", "c2hvcnQ=", "at least 32 bytes"),
    ("RASA_URLS", " , ", "RASA_URLS"),
])
def test_bad_values_get_clear_errors(tmp_path, name, value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(env(tmp_path, **{name: value}), dotenv=False)


def test_production_refuses_development_keys_sqlite_and_missing_twilio(tmp_path):
    # Production never generates keys: with none set it fails on the first missing one.
    with pytest.raises(SettingsError):
        load_settings(env(tmp_path, SERVICE_MODE="production"), dotenv=False)
    dev = load_settings(env(tmp_path), dotenv=False)
    keys = json.loads((tmp_path / "var" / "keys.json").read_text())
    prod = load_settings(env(tmp_path, SERVICE_MODE="production", **keys), dotenv=False)
    problems = " | ".join(production_problems(prod))
    assert "development keys reused" in problems
    assert "SQLite" in problems and "TWILIO_AUTH_TOKEN" in problems and "PUBLIC_BASE_URL" in problems
    with pytest.raises(SettingsError, match="Refusing to start in production mode"):
        check_production(prod)
    assert dev.mode == "development"


def test_production_accepts_real_settings(tmp_path):
    import base64
    import os

    secret = lambda: base64.urlsafe_b64encode(os.urandom(32)).decode()  # noqa: E731
    prod = load_settings(env(
        tmp_path, SERVICE_MODE="production", ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        BLIND_INDEX_KEY=secret(), SENDER_HASH_KEY=secret(), GATEWAY_TOKEN=secret(), SESSION_SECRET=secret(),
        DATABASE_URL="postgresql+asyncpg://app@db/app", TWILIO_AUTH_TOKEN="x" * 32,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32, PUBLIC_BASE_URL="https://help.northbrook.example",
    ), dotenv=False)
    assert production_problems(prod) == []
    check_production(prod)
    assert not (tmp_path / "var" / "keys.json").exists()
