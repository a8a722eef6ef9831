"""Safe times to call: free text such as "tomorrow after 3", "weekday mornings", "Friday between 2
and 4" or "any time before 8am" becomes concrete windows (aware datetimes), which are then checked
against the team's opening hours.

Our own small grammar handles days, parts of the day and time ranges; `dateparser` handles explicit
dates ("12 March", "next Tuesday at 3pm"). Recurring days ("weekday mornings") expand to the next
week's matching days. Nothing here logs the text.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Any, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple
from zoneinfo import ZoneInfo, available_timezones

DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_RE = {
    0: r"mon(?:day)?s?", 1: r"tue(?:s(?:day)?)?s?", 2: r"wed(?:nesday)?s?", 3: r"thu(?:r(?:s(?:day)?)?)?s?",
    4: r"fri(?:day)?s?", 5: r"sat(?:urday)?s?", 6: r"sun(?:day)?s?",
}
PARTS = {  # parts of the day, local time
    "early morning": (dt.time(7), dt.time(9)),
    "morning": (dt.time(9), dt.time(12)),
    "lunchtime": (dt.time(12), dt.time(14)),
    "lunch": (dt.time(12), dt.time(14)),
    "afternoon": (dt.time(12), dt.time(17)),
    "evening": (dt.time(17), dt.time(21)),
    "tonight": (dt.time(18), dt.time(21)),
    "night": (dt.time(18), dt.time(21)),
}
DAY_START, DAY_END = dt.time(7), dt.time(21)  # "any time" and open-ended ranges stay within these
WORD_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
HORIZON_DAYS = 28
RECURRING_DAYS = 7


class TimeError(ValueError):
    """Why the answer is not usable. `kind`: empty, unclear, impossible, end_before_start, past,
    too_far, outside_hours."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # aware
    end: dt.datetime

    def as_slot(self, tz: str) -> dict:
        return {"start": self.start.astimezone(dt.timezone.utc).isoformat(),
                "end": self.end.astimezone(dt.timezone.utc).isoformat(), "tz": tz}

    @classmethod
    def from_slot(cls, value: dict) -> "Window":
        start, end = dt.datetime.fromisoformat(value["start"]), dt.datetime.fromisoformat(value["end"])
        if start.tzinfo is None or end.tzinfo is None or end <= start:
            raise TimeError("impossible")
        return cls(start, end)


@dataclass
class _Spec:
    days: Optional[Set[int]] = None  # recurring weekdays
    dates: Optional[List[dt.date]] = None  # specific dates
    start: Optional[dt.time] = None
    end: Optional[dt.time] = None
    soon: bool = False


# --- text clean-up -----------------------------------------------------------------------------------

def _normalise(text: str) -> str:
    t = text.lower()
    t = re.sub(r"[\u2010-\u2015~]", "-", t)
    t = t.replace("a.m.", "am").replace("p.m.", "pm").replace("&", " and ")
    t = re.sub(r"\b(noon|midday)\b", "12pm", t)
    t = re.sub(r"\bmidnight\b", "12am", t)
    t = re.sub(r"\bo'?clock\b", "", t)
    t = re.sub(r"\b(" + "|".join(WORD_NUMBERS) + r")\b", lambda m: WORD_NUMBERS[m.group(1)], t)
    t = re.sub(r"\bhalf (past )?(\d{1,2})\b", r"\2:30", t)
    t = re.sub(r"(\d)\s+(am|pm)\b", r"\1\2", t)
    t = re.sub(r"[^\w:\-/\s,.;]", " ", t)
    t = re.sub(r"(?<!\d)\.(?!\d)", " ", t)
    return re.sub(r"\s+", " ", t).strip()


TIME_TOKEN = r"\d{1,2}(?:[:.]\d{2})?(?:am|pm)?"


def _parse_time(token: str, default_pm: Optional[bool] = None) -> Tuple[dt.time, bool]:
    """A time token -> (time, had_meridiem). Raises TimeError('impossible')."""
    m = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?(am|pm)?", token)
    if not m:
        raise TimeError("unclear")
    hour, minute, mer = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if minute > 59 or hour > 23 or (mer and (hour > 12 or hour == 0)):
        raise TimeError("impossible")
    if mer == "am":
        hour = 0 if hour == 12 else hour
    elif mer == "pm":
        hour = hour if hour == 12 else hour + 12
    elif hour <= 12:
        pm = default_pm if default_pm is not None else (1 <= hour <= 7)
        if pm and hour < 12:
            hour += 12
    return dt.time(hour % 24, minute), bool(mer)


def _range(a: str, b: str) -> Tuple[dt.time, dt.time]:
    end, end_mer = _parse_time(b)
    start, start_mer = _parse_time(a)
    if not start_mer and end_mer:
        # "2-4pm": the start shares the end's meridiem unless that puts it after the end ("10-2pm")
        same, _ = _parse_time(a, default_pm=end.hour >= 12)
        start = same if same < end else _parse_time(a, default_pm=False)[0]
    elif not start_mer and not end_mer and start >= end:
        alt, _ = _parse_time(a, default_pm=False)  # "between 11 and 2": 11am to 2pm
        if alt < end and alt.hour >= 7:
            start = alt
        else:
            alt_end, _ = _parse_time(b, default_pm=True)
            if start < alt_end:
                end = alt_end
    if end <= start:
        raise TimeError("end_before_start")
    return start, end


def _plus(t: dt.time, minutes: int) -> dt.time:
    total = max(0, min(23 * 60 + 59, t.hour * 60 + t.minute + minutes))
    return dt.time(total // 60, total % 60)


# --- one segment ----------------------------------------------------------------------------------

def _take_time(seg: str, spec: _Spec) -> str:
    patterns = [
        (rf"\b(?:between|from)\s+({TIME_TOKEN})\s+(?:and|to|till|until|-)\s+({TIME_TOKEN})\b", "range"),
        (rf"\b({TIME_TOKEN})\s*(?:-|to|till|until)\s*({TIME_TOKEN})\b", "range"),
        (rf"\b(?:after|from|since|not before)\s+({TIME_TOKEN})(?:\s+onwards)?\b", "after"),
        (rf"\b({TIME_TOKEN})\s+(?:onwards|or later)\b", "after"),
        (rf"\b(?:before|until|till|by|not after|no later than)\s+({TIME_TOKEN})\b", "before"),
        (rf"\b(?:around|about|roughly|approx|approximately|ish)\s+({TIME_TOKEN})\b", "around"),
        (rf"\b(?:at\s+)?({TIME_TOKEN})\b", "at"),
    ]
    for pattern, kind in patterns:
        m = None
        for candidate in re.finditer(pattern, seg):
            token = candidate.group(1)
            # a bare number is a time only with am/pm, a colon or "at": not a date like "12 march"
            if kind == "at" and not re.search(r"(am|pm|[:.]\d{2})$", token) \
                    and not candidate.group(0).startswith("at"):
                continue
            m = candidate
            break
        if not m:
            continue
        token = m.group(1)
        if kind == "range":
            spec.start, spec.end = _range(m.group(1), m.group(2))
        elif kind == "after":
            spec.start = _parse_time(token)[0]
            spec.end = max(DAY_END, _plus(spec.start, 60))
        elif kind == "before":
            spec.end = _parse_time(token)[0]
            spec.start = min(DAY_START, _plus(spec.end, -60))
            if spec.end <= spec.start:
                raise TimeError("impossible")
        elif kind == "around":
            t = _parse_time(token)[0]
            spec.start, spec.end = _plus(t, -30), _plus(t, 30)
        else:
            t = _parse_time(token)[0]
            spec.start, spec.end = t, _plus(t, 60)
        return seg[:m.start()] + " " + seg[m.end():]
    for name, (start, end) in PARTS.items():
        if re.search(rf"\b{name}s?\b", seg):
            spec.start, spec.end = start, end
            return re.sub(rf"\b{name}s?\b", " ", seg)
    return seg


def _take_days(seg: str, spec: _Spec, today: dt.date) -> str:
    if re.search(r"\b(yesterday|last (night|week|mon|tue|wed|thu|fri|sat|sun)\w*)\b", seg):
        raise TimeError("past")
    if re.search(r"\b(as soon as possible|asap|soon|straight away|right away|now|first available)\b", seg):
        spec.soon = True
    monday_next = today + dt.timedelta(days=7 - today.weekday())
    checks = [
        (r"\bnext week\b", lambda: spec.__setattr__(
            "dates", [monday_next + dt.timedelta(days=i) for i in range(5)])),
        (r"\bday after tomorrow\b", lambda: spec.__setattr__("dates", [today + dt.timedelta(days=2)])),
        (r"\b(tomorrow|tmrw|tmr|tomoz|2moro)\b", lambda: spec.__setattr__("dates", [today + dt.timedelta(days=1)])),
        (r"\b(today|tonight|this (morning|afternoon|evening))\b", lambda: spec.__setattr__("dates", [today])),
        (r"\b(week ?days?|weekdays|during the week|mon(day)?\s*(-|to)\s*fri(day)?|working days?|work days?)\b",
         lambda: spec.__setattr__("days", {0, 1, 2, 3, 4})),
        (r"\b(weekends?)\b", lambda: spec.__setattr__("days", {5, 6})),
        (r"\b(any ?day|every ?day|any ?time|whenever|all day|daily)\b",
         lambda: spec.__setattr__("days", spec.days or set(range(7)))),
    ]
    for pattern, apply in checks:
        if re.search(pattern, seg):
            apply()
            seg = re.sub(pattern, " ", seg)
    named = [d for d, rx in DAY_RE.items() if re.search(rf"\b(?:next |this |on )?{rx}\b", seg)]
    if named:
        recurring = any(re.search(rf"\b(?:every |any )?{DAY_RE[d]}\b", seg) and
                        re.search(rf"\b(every|any|{DAY_NAMES[d]}s)\b", seg) for d in named)
        if recurring:
            spec.days = set(named)
        else:
            dates = []
            for d in named:
                ahead = (d - today.weekday()) % 7
                if re.search(rf"\bnext {DAY_RE[d]}\b", seg) and ahead == 0:
                    ahead = 7
                dates.append(today + dt.timedelta(days=ahead))
            spec.dates = sorted(dates)
        for d in named:
            seg = re.sub(rf"\b(?:next |this |on |every |any )?{DAY_RE[d]}\b", " ", seg)
    date_match = re.search(
        r"\b(\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*"
        r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\s+\d{1,2}(?:st|nd|rd|th)?"
        r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?)\b", seg)
    if date_match:
        spec.dates = [_explicit_date(date_match.group(0), today)]
        seg = seg[:date_match.start()] + " " + seg[date_match.end():]
    return seg


def _explicit_date(text: str, today: dt.date) -> dt.date:
    import dateparser

    base = dt.datetime.combine(today, dt.time(12))
    if re.fullmatch(r"\d{1,2}/\d{1,2}(/\d{2,4})?", text):
        parts = [int(p) for p in text.split("/")]
        if len(parts) == 3 and parts[2] < 100:
            parts[2] += 2000
        try:
            day = dt.date(parts[2] if len(parts) == 3 else today.year, parts[1], parts[0])
        except ValueError:
            raise TimeError("impossible") from None
        if len(parts) == 2 and day < today:
            day = day.replace(year=today.year + 1)
        return day
    m = re.match(r"(\d{1,2})", text) or re.search(r"(\d{1,2})", text)
    month = re.search(r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", text).group(1)
    try:
        dt.date(2024, "jan feb mar apr may jun jul aug sep oct nov dec".split().index(month) + 1, int(m.group(1)))
    except ValueError:
        raise TimeError("impossible") from None  # 31 February, 0 March
    parsed = dateparser.parse(text, languages=["en"], settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": base, "DATE_ORDER": "DMY",
        "PREFER_DAY_OF_MONTH": "first"})
    if parsed is None:
        raise TimeError("impossible")  # e.g. 29 February in a year without one
    return parsed.date()


def _dateparser_fallback(seg: str, now_local: dt.datetime) -> Optional[Tuple[dt.date, Optional[dt.time]]]:
    import dateparser

    if not re.search(r"\d|next|week|month|day", seg):
        return None
    parsed = dateparser.parse(seg, languages=["en"], settings={
        "PREFER_DATES_FROM": "future", "RELATIVE_BASE": now_local.replace(tzinfo=None), "DATE_ORDER": "DMY",
        "STRICT_PARSING": False, "RETURN_TIME_AS_PERIOD": True})
    if parsed is None:
        return None
    has_time = (parsed.hour, parsed.minute) != (now_local.hour, now_local.minute) and \
        (parsed.hour, parsed.minute) != (0, 0)
    return parsed.date(), (parsed.time().replace(second=0, microsecond=0) if has_time else None)


# --- whole answer ---------------------------------------------------------------------------------

def _segments(text: str) -> List[str]:
    protected = re.sub(rf"\b(between|from)\s+({TIME_TOKEN})\s+and\s+({TIME_TOKEN})",
                       r"\1 \2 to \3", text)
    parts = re.split(r"\s*(?:,|;|\bor\b|\band\b|\balso\b|\bplus\b)\s*", protected)
    return [p.strip() for p in parts if p and p.strip()]


def parse_windows(text: Optional[str], now: dt.datetime, tz: str = "Europe/London",
                  open_days: Optional[Sequence[int]] = None) -> List[Window]:
    """Concrete windows (aware, in `tz`) for an answer, soonest first. `open_days` (weekday numbers)
    is used for "as soon as possible". Raises TimeError."""
    if text is None or not text.strip():
        raise TimeError("empty")
    zone = ZoneInfo(tz)
    now_local = now.astimezone(zone)
    today = now_local.date()
    cleaned = _normalise(text)
    if not re.search(r"[a-z0-9]", cleaned):
        raise TimeError("unclear")
    windows: List[Window] = []
    previous: Optional[_Spec] = None
    for seg in _segments(cleaned):
        spec = _Spec()
        rest = _take_time(seg, spec)
        rest = _take_days(rest, spec, today)
        understood = spec.start or spec.days or spec.dates or spec.soon
        if not understood:
            fallback = _dateparser_fallback(seg, now_local)
            if fallback is None:
                if re.fullmatch(r"[\s\w]*", rest) and len(rest.split()) <= 2 and previous is None:
                    raise TimeError("unclear")
                continue  # filler words between understood parts
            day, start = fallback
            spec.dates = [day]
            if start:
                spec.start, spec.end = start, _plus(start, 60)
        if spec.days is None and spec.dates is None and not spec.soon and previous is not None:
            spec.days, spec.dates = previous.days, previous.dates  # "weekday mornings and afternoons"
        previous = spec
        windows.extend(_expand(spec, now_local, zone, open_days))
    if not windows:
        if previous is None:
            raise TimeError("unclear")
        raise TimeError("past")
    if any(w.start.date() > today + dt.timedelta(days=HORIZON_DAYS) for w in windows):
        raise TimeError("too_far")
    return _merge(sorted(windows, key=lambda w: w.start))


def _expand(spec: _Spec, now_local: dt.datetime, zone: ZoneInfo, open_days) -> List[Window]:
    start = spec.start or DAY_START
    end = spec.end or DAY_END
    today = now_local.date()
    if spec.dates is not None:
        dates, explicit = spec.dates, True
    elif spec.days is not None:
        dates, explicit = [today + dt.timedelta(days=i) for i in range(RECURRING_DAYS)
                           if (today + dt.timedelta(days=i)).weekday() in spec.days], False
    elif spec.soon:
        days = set(open_days) if open_days else set(range(7))
        dates, explicit = [today + dt.timedelta(days=i) for i in range(RECURRING_DAYS)
                           if (today + dt.timedelta(days=i)).weekday() in days], False
    else:
        # a time with no day: today if still ahead, otherwise tomorrow
        first = dt.datetime.combine(today, end, tzinfo=zone)
        dates, explicit = [today if first > now_local else today + dt.timedelta(days=1)], True
    out = []
    for day in dates:
        if day < today:
            raise TimeError("past")
        w_start = dt.datetime.combine(day, start, tzinfo=zone)
        w_end = dt.datetime.combine(day, end, tzinfo=zone)
        if w_end <= now_local:
            if explicit and spec.dates is not None:
                raise TimeError("past")
            continue
        out.append(Window(max(w_start, _round_up(now_local)), w_end))
    if spec.soon and not spec.start:
        out = out[:2]  # the next two days it is open
    return out


def _round_up(t: dt.datetime) -> dt.datetime:
    t = t.replace(second=0, microsecond=0)
    extra = (-t.minute) % 15
    return t + dt.timedelta(minutes=extra)


def _merge(windows: Iterable[Window]) -> List[Window]:
    merged: List[Window] = []
    for w in windows:
        if merged and w.start <= merged[-1].end:
            merged[-1] = Window(merged[-1].start, max(merged[-1].end, w.end))
        else:
            merged.append(w)
    return merged


# --- opening hours --------------------------------------------------------------------------------

def clip_to_hours(windows: Sequence[Window], hours, tz: str = "Europe/London") -> Tuple[List[Window], bool]:
    """The parts of the windows when the team is open, and whether anything was cut off.
    `hours` is bot.profile.OpeningHours."""
    zone = ZoneInfo(tz)
    clipped: List[Window] = []
    cut = False
    for w in windows:
        local_start, local_end = w.start.astimezone(zone), w.end.astimezone(zone)
        day = local_start.date()
        kept_any = False
        while day <= local_end.date():
            opening = hours.window(day.weekday())
            if opening:
                o_start = dt.datetime.combine(day, opening[0], tzinfo=zone)
                o_end = dt.datetime.combine(day, opening[1], tzinfo=zone)
                s, e = max(local_start, o_start), min(local_end, o_end)
                if e - s >= dt.timedelta(minutes=15):
                    clipped.append(Window(s, e))
                    kept_any = True
                    if s != local_start or e != local_end:
                        cut = True
                elif e > s:
                    cut = True
            day += dt.timedelta(days=1)
        if not kept_any:
            cut = True
    return clipped, cut


def open_weekdays(hours) -> List[int]:
    return [d for d in range(7) if hours.window(d)]


@functools.lru_cache(maxsize=1)
def _zones() -> FrozenSet[str]:
    return frozenset(available_timezones())


def known_timezone(name: Any) -> bool:
    """Whether `name` is an IANA timezone on this system (a lookup, never a path: "../../etc/passwd"
    is not one)."""
    return isinstance(name, str) and name in _zones()


# --- wording --------------------------------------------------------------------------------------

def _clock(t: dt.datetime) -> str:
    hour = t.hour % 12 or 12
    suffix = "am" if t.hour < 12 else "pm"
    return f"{hour}{suffix}" if t.minute == 0 else f"{hour}:{t.minute:02d}{suffix}"


def describe(windows: Sequence[Window], tz: str = "Europe/London", limit: int = 4) -> str:
    """Plain words, GSM-7 only: "Tue 3 Mar 3pm to 5pm; Wed 4 Mar 9am to 12pm"."""
    zone = ZoneInfo(tz)
    parts = []
    for w in windows[:limit]:
        s, e = w.start.astimezone(zone), w.end.astimezone(zone)
        parts.append(f"{s.strftime('%a')} {s.day} {s.strftime('%b')} {_clock(s)} to {_clock(e)}")
    more = len(windows) - limit
    text = "; ".join(parts)
    if more > 0:
        text += f"; and {more} more time{'s' if more > 1 else ''}"
    return text
