import datetime as dt
import os
import time

import pytest
import yaml

from bot.profile import ProfileCache, ProfileError, load_profile
from bot.settings import ROOT

EXAMPLE = ROOT / "profiles" / "example.yml"


def write(tmp_path, data):
    path = tmp_path / "profile.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def example():
    return yaml.safe_load(EXAMPLE.read_text())


def test_example_profile_is_valid_and_fictional():
    profile = load_profile(EXAMPLE)
    slots = profile.slots()
    assert slots["org_name"] == "Northbrook City Council"
    assert slots["team_phone"].startswith("0113 496 0")  # Ofcom drama range
    assert profile.team.hours.window(0) == (dt.time(9), dt.time(17))
    assert profile.team.hours.window(6) is None
    assert profile.retention.closed_days == 30 and profile.retention.untouched_days == 14


@pytest.mark.parametrize("mutate,fragment", [
    (lambda d: d["team"].update(phone="12"), "team.phone"),
    (lambda d: d["team"]["hours"].update(monday="9 till 5"), "team.hours.monday"),
    (lambda d: d["team"]["hours"].update(monday="17:00-09:00"), "must end after it starts"),
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
    (lambda d: d["organisation"].pop("name"), "organisation.name"),
    (lambda d: d.update(unknown_field=1), "unknown_field"),
    (lambda d: d["web_chat"].update(frame_ancestors=["http://insecure.example"]), "frame_ancestors"),
    (lambda d: d["retention"].update(closed_days=0), "retention.closed_days"),
])
def test_invalid_profiles_say_which_field(tmp_path, mutate, fragment):
    data = example()
    mutate(data)
    with pytest.raises(ProfileError) as err:
        load_profile(write(tmp_path, data))
    assert fragment in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "nope.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("organisation: [unclosed")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(bad)


def test_cache_reloads_on_change_and_keeps_last_good(tmp_path):
    path = write(tmp_path, example())
    cache = ProfileCache(path)
    assert cache.get().organisation.name == "Northbrook City Council"
    data = example()
    data["organisation"]["name"] = "Southmere District Council"
    path.write_text(yaml.safe_dump(data))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert cache.get().organisation.name == "Southmere District Council"
    path.write_text("organisation: {}")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert cache.get().organisation.name == "Southmere District Council"


def test_empty_service_lists_still_read_well(tmp_path):
    data = example()
    data["refuges"] = []
    data["idva_services"] = []
    data["perpetrator_services"] = []
    slots = load_profile(write(tmp_path, data)).slots()
    for key in ("refuges", "idva_services", "perpetrator_services"):
        assert slots[key] == "ask the Domestic Abuse Support Team on 0113 496 0123"
