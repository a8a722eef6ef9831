"""The callback form's validators, parsers and wording, with many bad inputs.

Invented names and Ofcom drama numbers only (07700 900000-900999, 0113 496 0xxx).
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot import domain_files

from bot.callbacks import form, phone as phones, times
from bot.callbacks.form import Context
from bot.profile import load_profile
from bot.settings import ROOT

LONDON = ZoneInfo("Europe/London")
MONDAY_10AM = dt.datetime(2026, 3, 2, 10, 0, tzinfo=LONDON)
PROFILE = load_profile(ROOT / "profiles" / "example.yml")


LONG = pytest.param("x" * 10_000, id="10000-characters")


def ctx(intent=None, now=MONDAY_10AM):
    return Context(intent=intent, now=now, profile=PROFILE, tz="Europe/London")


def run(slot, value, slots=None, intent=None, now=MONDAY_10AM):
    return form.validate(slot, value, slots or {}, ctx(intent, now))


# --- stop, cancel, forget it at every step ------------------------------------------------------

@pytest.mark.parametrize("slot", form.FORM_SLOTS)
@pytest.mark.parametrize("text", ["stop", "Cancel", "forget it", "FORGET IT!", "cancel the booking", "/stop",
                                  "never mind", " stop. "])
def test_stop_at_every_step_cancels_and_keeps_nothing(slot, text):
    updates, _ = run(slot, text)
    assert updates[slot] is None and updates[form.CANCELLED] is True
    assert form.required_slots({form.CONSENT: True, form.NAME: "Sam", form.CANCELLED: True}) == []


@pytest.mark.parametrize("slot", form.FORM_SLOTS)
def test_confident_stop_intent_with_stop_words_cancels_at_every_step(slot):
    updates, _ = run(slot, "i don't want this any more actually", intent="stop")
    assert updates[form.CANCELLED] is True


@pytest.mark.parametrize("text", ["Imogen Testperson", "Jo", "weekday mornings", "help with housing"])
def test_answers_the_nlu_mistakes_for_stop_are_not_cancelled(text):
    for slot in (form.NAME, form.NOTE):
        assert form.CANCELLED not in run(slot, text, intent="stop")[0]


# --- consent -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["yes", "Yes please", "/affirm", "ok", "1", "yeah that's fine"])
def test_consent_yes(text):
    assert run(form.CONSENT, text)[0] == {form.CONSENT: True}


@pytest.mark.parametrize("text", ["no", "/deny", "2", "nope", "no thanks"])
def test_consent_no_ends_the_form_with_nothing_required(text):
    updates, _ = run(form.CONSENT, text)
    assert updates == {form.CONSENT: False}
    assert form.required_slots(updates) == []


@pytest.mark.parametrize("text", ["", "   ", "maybe", "what will you store?", "🙂", LONG, "7", "/greet"])
def test_consent_needs_a_clear_yes(text):
    updates, messages = run(form.CONSENT, text)
    assert updates == {form.CONSENT: None}
    assert messages == [("utter_callback_consent_unclear", {})]


# --- name --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [("Sam", "Sam"), ("my name is Imogen", "Imogen"), ("call me Jo", "Jo"),
                                           ("  Zainab  ", "Zainab"), ("Ms Test", "Ms Test"), ("Émilie", "Émilie"),
                                           ("Sam 🙂", "Sam 🙂"), ("Blue", "Blue")])
def test_name_accepts_any_word(text, expected):
    assert run(form.NAME, text)[0] == {form.NAME: expected}


@pytest.mark.parametrize("text,response", [
    ("", "utter_callback_name_unclear"), ("   ", "utter_callback_name_unclear"),
    ("🙂🙂", "utter_callback_name_unclear"), ("...", "utter_callback_name_unclear"),
    ("/affirm", "utter_callback_name_unclear"), ("07700 900123", "utter_callback_name_is_number"),
    pytest.param("x" * 10_000, "utter_callback_name_too_long", id="10000-characters"), ("\x00\x07", "utter_callback_name_unclear"),
])
def test_name_bad_inputs_get_a_specific_reask(text, response):
    updates, messages = run(form.NAME, text)
    assert updates == {form.NAME: None} and messages[0][0] == response


# --- phone -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,e164", [
    ("07700 900123", "+447700900123"), ("07700900123", "+447700900123"), ("+44 7700 900123", "+447700900123"),
    ("+447700900123", "+447700900123"), ("0044 7700 900 123", "+447700900123"), ("07700-900-123", "+447700900123"),
    ("+44 (0)7700 900123", "+447700900123"), ("(07700) 900123", "+447700900123"),
    ("my number is 07700 900456 thanks", "+447700900456"), ("0113 496 0123", "+441134960123"),
    ("(0113) 496-0999", "+441134960999"), ("+44 113 496 0000", "+441134960000"), ("020 7946 0000", "+442079460000"),
])
def test_phone_formats_normalise_to_e164(text, e164):
    updates, _ = run(form.PHONE, text)
    assert updates == {form.PHONE: e164}


def test_landline_gets_a_gentle_warning_and_mobile_does_not():
    assert run(form.PHONE, "0113 496 0123")[1] == [("utter_callback_phone_landline", {})]
    assert run(form.PHONE, "07700 900123")[1] == []
    assert run(form.PHONE, "+441134960123")[1] == []  # an already-normalised value (form resumed)


@pytest.mark.parametrize("text,response", [
    ("", "utter_callback_phone_empty"), ("no", "utter_callback_phone_empty"), ("🙂📞", "utter_callback_phone_empty"),
    ("123", "utter_callback_phone_too_short"), ("07700 90012", "utter_callback_phone_too_short"),
    ("077009001234", "utter_callback_phone_too_long"), ("+1 202 555 0100", "utter_callback_phone_not_uk"),
    ("+33 1 23 45 67 89", "utter_callback_phone_not_uk"), ("0800 123 4567", "utter_callback_phone_not_callable"),
    ("0909 123 4567", "utter_callback_phone_not_callable"), ("07000 123456", "utter_callback_phone_not_callable"),
    ("0808 2000 247", "utter_callback_phone_not_callable"), ("999", "utter_callback_phone_too_short"),
    ("07700 900123 or 07700 900124", "utter_callback_phone_several"), pytest.param("1" * 10_000, "utter_callback_phone_too_long", id="10000-digits"),
    ("01000 000000", "utter_callback_phone_invalid"), ("00000000000", "utter_callback_phone_too_short"),
])
def test_phone_bad_inputs_get_a_specific_reask(text, response):
    updates, messages = run(form.PHONE, text)
    assert updates == {form.PHONE: None}
    assert messages == [(response, {})]


def test_mask_shows_only_the_last_three_digits():
    assert phones.mask("+447700900123") == "ending 123"


# --- times -------------------------------------------------------------------------------------

def local(windows):
    return [(times.Window.from_slot(w).start.astimezone(LONDON).strftime("%a %H:%M"),
             times.Window.from_slot(w).end.astimezone(LONDON).strftime("%a %H:%M")) for w in windows]


@pytest.mark.parametrize("text,expected", [
    ("tomorrow after 3", [("Tue 15:00", "Tue 17:00")]),
    ("Friday between 2 and 4", [("Fri 14:00", "Fri 16:00")]),
    ("tues 2-4pm", [("Tue 14:00", "Tue 16:00")]),
    ("tomorrow morning", [("Tue 09:00", "Tue 12:00")]),
    ("wednesday at 11am or thursday around 3", [("Wed 11:00", "Wed 12:00"), ("Thu 14:30", "Thu 15:30")]),
    ("between 11 and 2", [("Mon 11:00", "Mon 14:00")]),
    ("friday at half 2", [("Fri 14:30", "Fri 15:30")]),
    ("1", [("Mon 10:00", "Mon 17:00"), ("Tue 09:00", "Tue 17:00")]),  # SMS option 1: as soon as possible
])
def test_times_parse_to_windows_within_opening_hours(text, expected):
    updates, _ = run(form.TIMES, text)
    assert local(updates[form.TIMES]) == expected
    assert all(w["tz"] == "Europe/London" and w["start"].endswith("+00:00") for w in updates[form.TIMES])


def test_weekday_mornings_expand_to_the_next_weekdays():
    updates, messages = run(form.TIMES, "weekday mornings")
    assert [s for s, _ in local(updates[form.TIMES])] == ["Mon 10:00", "Tue 09:00", "Wed 09:00", "Thu 09:00", "Fri 09:00"]
    assert messages[0][0] == "utter_callback_times_noted"


def test_times_partly_outside_hours_are_cut_and_the_person_is_told():
    updates, messages = run(form.TIMES, "tomorrow after 3")
    assert messages[0][0] == "utter_callback_times_clipped"
    assert "Tue 3 Mar 3pm to 5pm" in messages[0][1]["callback_times_text"]


@pytest.mark.parametrize("text", ["any time before 8am", "saturday morning", "sunday", "tonight", "weekends",
                                  "tomorrow at 7pm"])
def test_times_wholly_outside_opening_hours_are_refused_with_the_reason(text):
    updates, messages = run(form.TIMES, text)
    assert updates == {form.TIMES: None}
    assert messages == [("utter_callback_times_outside_hours", {})]


@pytest.mark.parametrize("text,response", [
    ("", "utter_callback_times_unclear"), ("banana", "utter_callback_times_unclear"), ("🙂", "utter_callback_times_unclear"),
    ("25:00", "utter_callback_times_impossible"), ("15pm", "utter_callback_times_impossible"),
    ("friday at 10:75", "utter_callback_times_impossible"), ("31 February", "utter_callback_times_impossible"),
    ("31/04", "utter_callback_times_impossible"),
    ("between 5 and 3", "utter_callback_times_end_before_start"), ("tomorrow 4pm-2pm", "utter_callback_times_end_before_start"),
    ("yesterday", "utter_callback_times_past"), ("last friday", "utter_callback_times_past"),
    ("today before 9", "utter_callback_times_past"),
    ("1/1/2030", "utter_callback_times_too_far"),
])
def test_impossible_or_unclear_times_get_a_specific_reask(text, response):
    updates, messages = run(form.TIMES, text)
    assert updates == {form.TIMES: None}
    assert messages == [(response, {})]


def test_ten_thousand_character_time_answer_does_not_crash():
    updates, messages = run(form.TIMES, "blah " * 2000)
    assert updates == {form.TIMES: None} and messages


def test_times_across_the_clock_change_are_stored_in_utc():
    sat = dt.datetime(2026, 3, 28, 10, 0, tzinfo=LONDON)  # clocks go forward on Sunday 29 March 2026
    updates, _ = run(form.TIMES, "monday at 10am", now=sat)
    window = updates[form.TIMES][0]
    assert window["start"] == "2026-03-30T09:00:00+00:00" and window["tz"] == "Europe/London"


def test_validated_times_are_kept_when_the_form_resumes():
    updates, _ = run(form.TIMES, "tomorrow morning")
    again, messages = run(form.TIMES, updates[form.TIMES])
    assert again == updates and messages == []


# --- contact settings --------------------------------------------------------------------------

def test_safest_settings_fill_every_contact_step_in_one_answer():
    updates, _ = run(form.DEFAULTS, "use the safest settings")
    assert updates[form.VOICEMAIL] is False and updates[form.TEXT_FIRST] is False
    assert updates[form.OTHER] == "hang_up" and updates[form.GENDER] == "no_preference"
    assert form.required_slots({form.CONSENT: True, **updates}) == [
        form.CONSENT, form.NAME, form.PHONE, form.TIMES, form.DEFAULTS, form.NOTE, form.CHILDREN, form.AFRAID,
        form.CONFIRM]


def test_choosing_asks_every_contact_step():
    updates, _ = run(form.DEFAULTS, "let me choose")
    slots = {form.CONSENT: True, **updates}
    assert form.required_slots(slots)[5:] == [form.VOICEMAIL, form.TEXT_FIRST, form.OTHER, form.GENDER,
                                              form.LANGUAGE, form.INTERPRETER, form.NOTE, form.CHILDREN,
                                              form.AFRAID, form.CONFIRM]
    slots.update({form.VOICEMAIL: True, form.OTHER: "cover"})
    required = form.required_slots(slots)
    assert form.WORDING in required and form.COVER in required


@pytest.mark.parametrize("text", ["", "🙂", "purple", LONG])
def test_contact_settings_unclear(text):
    assert run(form.DEFAULTS, text) == ({form.DEFAULTS: None}, [("utter_callback_defaults_unclear", {})])


@pytest.mark.parametrize("text,expected", [("/affirm", True), ("yes", True), ("1", True), ("/deny", False),
                                           ("no it's not safe", False), ("2", False)])
def test_voicemail_yes_no(text, expected):
    assert run(form.VOICEMAIL, text)[0][form.VOICEMAIL] is expected


def test_voicemail_wording_is_neutral_text_of_limited_length():
    assert run(form.WORDING, "Sorry I missed you. I will try again later.")[0] == {
        form.WORDING: "Sorry I missed you. I will try again later."}
    assert run(form.WORDING, "Hi, it's the library about your book")[0] == {
        form.WORDING: "Hi, it's the library about your book"}
    assert run(form.WORDING, "x" * 10_000)[1][0][0] == "utter_callback_text_too_long"
    assert run(form.WORDING, "🙂")[1][0][0] == "utter_callback_wording_unclear"


@pytest.mark.parametrize("text,other,cover", [
    ("hang up", "hang_up", None), ("1", "hang_up", None), ("just hang up please", "hang_up", None),
    ("give a reason", "cover", None), ("say you're from the dentist", "cover", "say you're from the dentist"),
])
def test_if_someone_else_answers(text, other, cover):
    updates, _ = run(form.OTHER, text)
    assert updates[form.OTHER] == other
    assert updates.get(form.COVER) == cover


@pytest.mark.parametrize("text,expected", [("a woman", "woman"), ("female please", "woman"), ("A man", "man"),
                                           ("no preference", "no_preference"), ("I don't mind", "no_preference"),
                                           ("3", "no_preference"), ("1", "woman")])
def test_gender_preference(text, expected):
    assert run(form.GENDER, text)[0] == {form.GENDER: expected}


@pytest.mark.parametrize("text,expected", [("English", "English"), ("1", "English"), ("polish", "Polish"),
                                           ("I speak Urdu", "Urdu"), ("Cymraeg", "Cymraeg")])
def test_language(text, expected):
    assert run(form.LANGUAGE, text)[0] == {form.LANGUAGE: expected}


@pytest.mark.parametrize("text", ["", "🙂", "123", LONG])
def test_language_bad_inputs(text):
    assert run(form.LANGUAGE, text)[1] == [("utter_callback_language_unclear", {})]


@pytest.mark.parametrize("text,expected", [("no interpreter", "none"), ("no", "none"), ("an interpreter", "interpreter"),
                                           ("BSL", "bsl"), ("I'm deaf, sign language please", "bsl"), ("3", "bsl")])
def test_interpreter(text, expected):
    assert run(form.INTERPRETER, text)[0] == {form.INTERPRETER: expected}


# --- note and safety questions -----------------------------------------------------------------

def test_note_is_kept_up_to_500_characters():
    assert run(form.NOTE, "a" * 500)[0] == {form.NOTE: "a" * 500}
    updates, messages = run(form.NOTE, "a" * 501)
    assert updates == {form.NOTE: None}
    assert messages == [("utter_callback_note_too_long", {"limit": 500, "length": 501})]


def test_ten_thousand_character_note_is_refused_not_truncated():
    updates, messages = run(form.NOTE, "help " * 2000)
    assert updates == {form.NOTE: None} and messages[0][0] == "utter_callback_note_too_long"


@pytest.mark.parametrize("text", ["skip", "/deny", "no", "nothing", "no thanks"])
def test_note_can_be_skipped(text):
    assert run(form.NOTE, text)[0] == {form.NOTE: form.SKIPPED}


def test_note_with_emoji_and_control_characters_is_cleaned():
    assert run(form.NOTE, "help with housing 🏠\x00\n please")[0] == {form.NOTE: "help with housing 🏠 please"}


@pytest.mark.parametrize("slot", [form.CHILDREN, form.AFRAID])
@pytest.mark.parametrize("text,expected", [("yes", "yes"), ("/affirm", "yes"), ("1", "yes"), ("no", "no"),
                                           ("2", "no"), ("skip", form.SKIPPED), ("3", form.SKIPPED),
                                           ("rather not say", form.SKIPPED)])
def test_safety_questions_can_be_answered_or_skipped(slot, text, expected):
    assert run(slot, text)[0] == {slot: expected}


def test_safety_yes_raises_priority_and_afraid_gets_a_supportive_reply():
    assert form.priority({form.CHILDREN: "yes", form.AFRAID: "yes"}) == 2
    assert form.priority({form.CHILDREN: "no", form.AFRAID: form.SKIPPED}) == 0
    assert run(form.AFRAID, "yes")[1] == [("utter_callback_afraid_yes", {})]


@pytest.mark.parametrize("text", ["", "🙂", "perhaps", LONG])
def test_safety_unclear(text):
    assert run(form.CHILDREN, text)[1] == [("utter_callback_safety_unclear", {})]


# --- confirmation ------------------------------------------------------------------------------

SLOTS = {
    form.CONSENT: True, form.NAME: "Imogen", form.PHONE: "+447700900123",
    form.TIMES: run(form.TIMES, "tomorrow morning")[0][form.TIMES], form.DEFAULTS: True,
    **form.SAFE_DEFAULTS, form.NOTE: "Please help me with housing", form.CHILDREN: "yes", form.AFRAID: "no",
}


def test_summary_masks_the_number_and_does_not_echo_the_note_or_safety_answers():
    text = form.summary(SLOTS)
    assert "ending 123" in text and "7700" not in text and "900123" not in text
    assert "housing" not in text and "Note: added" in text
    assert "children" not in text.lower() and "afraid" not in text.lower()
    assert "Imogen" in text and "Tue 3 Mar 9am to 12pm" in text


@pytest.mark.parametrize("text", ["/affirm", "yes", "1", "yes book it"])
def test_confirm(text):
    assert run(form.CONFIRM, text, SLOTS)[0] == {form.CONFIRM: True}


@pytest.mark.parametrize("text,cleared", [
    ("change the number", {form.PHONE}), ("change the times", {form.TIMES}), ("change my name", {form.NAME}),
    ("change the note", {form.NOTE}), ("change the contact settings", {form.DEFAULTS, form.VOICEMAIL}),
])
def test_change_clears_only_that_answer(text, cleared):
    updates, messages = run(form.CONFIRM, text, SLOTS)
    assert updates[form.CONFIRM] is None
    assert cleared <= {k for k, v in updates.items() if v is None}
    assert form.NAME not in updates or form.NAME in cleared
    assert messages == [("utter_callback_change_ok", {})]


@pytest.mark.parametrize("text", ["no", "2", "change something", "hmm", "", "🙂", LONG])
def test_not_yes_at_confirmation_asks_what_to_change(text):
    updates, messages = run(form.CONFIRM, text, SLOTS)
    assert updates.get(form.CONFIRM) is None and updates.get(form.CANCELLED) is None
    assert messages == [("utter_callback_change_which", {})]


def test_details_hold_preferences_and_safety_answers():
    details = form.booking_details(SLOTS)
    assert details["children_in_home"] == "yes" and details["voicemail"] is False
    assert "Imogen" not in str(details) and "7700" not in str(details)


# --- domain wording ----------------------------------------------------------------------------

GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
           "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def callback_responses():
    domain = domain_files.merged()
    return {name: variants for name, variants in domain["responses"].items()
            if name.startswith("utter_callback") or name.startswith("utter_ask_callback")
            or name == "utter_stop_nothing_active"}


def test_every_callback_response_has_a_gsm7_sms_variation_without_buttons():
    responses = callback_responses()
    assert len(responses) > 40
    for name, variants in responses.items():
        # one SMS variation for each condition (most responses have none)
        conditions = [repr(v.get("condition")) for v in variants if v.get("channel") != "sms"]
        sms = [v for v in variants if v.get("channel") == "sms"]
        assert sorted(repr(v.get("condition")) for v in sms) == sorted(conditions), name
        for variant in sms:
            assert set(variant["text"]) <= GSM7, name
            assert "buttons" not in variant, name
            # Alone, STOP and CANCEL are SMS opt-out words: the way out offered is FORGET IT.
            assert not re.search(r"\b(STOP|CANCEL)\b", variant["text"]), name
            assert not re.search(r"\bstop\b", variant["text"], re.I) or "FORGET IT" in variant["text"], name


def test_every_ask_offers_buttons_on_the_web_except_free_text_steps():
    free_text = {"utter_ask_callback_cover_story"}
    for name, variants in callback_responses().items():
        if name.startswith("utter_ask_callback") and name not in free_text:
            web = [v for v in variants if not v.get("channel")]
            assert web[0].get("buttons"), name


def test_consent_says_what_who_and_how_long():
    text = callback_responses()["utter_ask_callback_consent"][0]["text"]
    for placeholder in ("{team_name}", "{retention_closed_days}", "{retention_untouched_days}"):
        assert placeholder in text


def test_failure_message_gives_the_helpline_and_local_number():
    for variant in callback_responses()["utter_callback_save_failed"]:
        assert "0808 2000 247" in variant["text"] and "{team_phone}" in variant["text"]



def test_stop_after_a_booking_does_not_say_nothing_was_saved():
    from bot import domain_files

    variants = domain_files.merged()["responses"]["utter_stop_nothing_active"]
    for variant in variants:
        kept = [c["value"] for c in variant.get("condition") or []
                if c.get("name") == "kept_this_conversation"]
        if kept:
            assert "nothing has been saved" not in variant["text"].lower()
            assert "kept" in variant["text"]
        else:
            assert "nothing has been saved" in variant["text"].lower()
    assert {c["value"] for v in variants for c in v.get("condition") or []} == {"callback", "concern", "both"}


def test_the_submit_action_remembers_what_was_kept():
    from actions.callback import kept

    class T:
        def __init__(self, value):
            self.value = value

        def get_slot(self, name):
            return self.value if name == "kept_this_conversation" else None

    assert kept(T(None), "callback")["value"] == "callback"
    assert kept(T("callback"), "callback")["value"] == "callback"
    assert kept(T("concern"), "callback")["value"] == "both"
    assert kept(T("both"), "concern")["value"] == "both"
