"""The organisation profile: everything local (names, numbers, hours, links) in one YAML file.

It is validated when a process starts, with errors that say which field is wrong. Responses render
from it at run time (see bot/nlg.py), so changing it changes answers without retraining.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import phonenumbers
import yaml
from pydantic import BaseModel, Field, HttpUrl, ValidationError, root_validator, validator

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ProfileError(ValueError):
    """The profile file is missing or invalid."""


def _uk_number(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, "GB")
    except phonenumbers.NumberParseException:
        raise ValueError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{value!r} is not a possible UK phone number")
    return value


class Service(BaseModel):
    name: str = Field(..., min_length=1)
    phone: Optional[str] = None
    url: Optional[HttpUrl] = None
    description: str = ""

    _phone = validator("phone", allow_reuse=True)(lambda v: v if v is None else _uk_number(v))


class OpeningHours(BaseModel):
    """Opening hours per weekday as "HH:MM-HH:MM", or null when closed."""

    monday: Optional[str] = None
    tuesday: Optional[str] = None
    wednesday: Optional[str] = None
    thursday: Optional[str] = None
    friday: Optional[str] = None
    saturday: Optional[str] = None
    sunday: Optional[str] = None
    summary: str = Field(..., min_length=1, description="Plain words, e.g. 'Monday to Friday, 9am to 5pm'")

    @validator(*DAYS)
    def _range(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            start, end = (dt.time.fromisoformat(part.strip()) for part in value.split("-"))
        except ValueError:
            raise ValueError(f"{value!r} must look like 09:00-17:00") from None
        if start >= end:
            raise ValueError(f"{value!r} must end after it starts")
        return value

    def window(self, weekday: int) -> Optional[Tuple[dt.time, dt.time]]:
        """Opening window for a weekday (0 = Monday), or None when closed."""
        value = getattr(self, DAYS[weekday])
        if value is None:
            return None
        start, end = (dt.time.fromisoformat(part.strip()) for part in value.split("-"))
        return start, end


class Team(BaseModel):
    name: str = Field(..., min_length=1)
    phone: str
    email: Optional[str] = None
    hours: OpeningHours
    out_of_hours: str = Field(..., min_length=1)

    _phone = validator("phone", allow_reuse=True)(_uk_number)


class WebChat(BaseModel):
    title: str = "Help and advice"
    favicon: str = "neutral.svg"
    quick_exit_url: HttpUrl = "https://www.bbc.co.uk/weather"  # type: ignore[assignment]
    frame_ancestors: List[str] = Field(default_factory=list)

    @validator("frame_ancestors", each_item=True)
    def _origin(cls, value: str) -> str:
        if not value.startswith("https://") or any(c in value for c in " ;'\""):
            raise ValueError(f"{value!r} must be an https origin such as https://www.example.gov.uk")
        return value


class Retention(BaseModel):
    closed_days: int = Field(30, ge=1, le=365, description="Purge completed or closed bookings after this")
    untouched_days: int = Field(14, ge=1, le=365, description="Purge bookings nobody touched after this")


class Organisation(BaseModel):
    name: str = Field(..., min_length=1)
    short_name: str = Field(..., min_length=1)
    kind: str = Field("council", regex="^(council|housing_association|partnership)$")
    website: HttpUrl


class Profile(BaseModel):
    organisation: Organisation
    team: Team
    timezone: str = "Europe/London"
    sanctuary_scheme: str = Field(..., min_length=1, description="Local name of the sanctuary scheme")
    refuges: List[Service] = Field(default_factory=list)
    idva_services: List[Service] = Field(default_factory=list)
    perpetrator_services: List[Service] = Field(default_factory=list)
    links: Dict[str, HttpUrl] = Field(default_factory=dict)
    web_chat: WebChat = Field(default_factory=WebChat)
    retention: Retention = Field(default_factory=Retention)

    class Config:
        extra = "forbid"

    @validator("timezone")
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"{value!r} is not a known timezone") from None
        return value

    @root_validator(skip_on_failure=True)
    def _some_hours(cls, values):
        hours = values["team"].hours
        if not any(getattr(hours, day) for day in DAYS):
            raise ValueError("team.hours must open on at least one day")
        return values

    def slots(self) -> Dict[str, str]:
        """Flat values that responses can use as {placeholders} (see bot/nlg.py)."""
        ask_team = f"ask the {self.team.name} on {self.team.phone}"
        values = {
            "org_name": self.organisation.name,
            "org_short_name": self.organisation.short_name,
            "org_website": str(self.organisation.website),
            "team_name": self.team.name,
            "team_phone": self.team.phone,
            "team_hours": self.team.hours.summary,
            "team_out_of_hours": self.team.out_of_hours,
            "sanctuary_scheme": self.sanctuary_scheme,
            "retention_closed_days": str(self.retention.closed_days),
            "retention_untouched_days": str(self.retention.untouched_days),
            # An empty list must still read well after "Local:": point to the team instead.
            "refuges": "; ".join(_describe(s) for s in self.refuges) or ask_team,
            "idva_services": "; ".join(_describe(s) for s in self.idva_services) or ask_team,
            "perpetrator_services": "; ".join(_describe(s) for s in self.perpetrator_services) or ask_team,
        }
        for key, url in self.links.items():
            values[f"link_{key}"] = str(url)
        return values


def _describe(service: Service) -> str:
    parts = [service.name]
    if service.phone:
        parts.append(service.phone)
    return ", ".join(parts)


def _format_errors(path: Path, error: ValidationError) -> str:
    lines = [f"Organisation profile {path} is invalid:"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"] if p != "__root__") or "(top level)"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def load_profile(path: os.PathLike) -> Profile:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"Organisation profile not found at {path} (set PROFILE_PATH)") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"Organisation profile {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"Organisation profile {path} must be a YAML mapping")
    try:
        return Profile.parse_obj(raw)
    except ValidationError as exc:
        raise ProfileError(_format_errors(path, exc)) from None


class ProfileCache:
    """Reloads the profile when the file changes, keeping the last good one if an edit is invalid."""

    def __init__(self, path: os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._mtime: Optional[int] = None
        self._profile = load_profile(self.path)
        self._mtime = self._stat()

    def _stat(self) -> Optional[int]:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def get(self) -> Profile:
        mtime = self._stat()
        if mtime is not None and mtime != self._mtime:
            with self._lock:
                if mtime != self._mtime:
                    try:
                        self._profile = load_profile(self.path)
                    except ProfileError:
                        import logging

                        logging.getLogger(__name__).error(
                            "Edited profile %s is invalid; still using the previous one", self.path
                        )
                    self._mtime = mtime
        return self._profile
