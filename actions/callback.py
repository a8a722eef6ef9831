"""Callback booking actions (thin: the logic is in bot/callbacks/).

- validate_callback_form: reads each answer (bot.callbacks.form) and picks the next question.
- action_ask_callback_confirm: the summary, with the number masked.
- action_submit_callback: saves once per conversation, gives the three-word reference, clears slots.
  The save checks the answers again (bot.callbacks.service.save) and refuses, storing nothing, what
  the form would not have accepted; if only the safe times have all passed meanwhile, it asks for
  new ones and keeps every other answer.
- action_cancel_callback: "stop", "cancel" or "forget it": nothing stored, the person is told.

Slot values are never logged.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_validators import add_slot_validators
from bot.callbacks import form, service


KEPT = "kept_this_conversation"


def kept(tracker: Tracker, what: str) -> SlotSet:
    """Remember that a call back or a concern was saved in this conversation, so that a later
    "stop" does not say nothing was saved."""
    before = tracker.get_slot(KEPT)
    return SlotSet(KEPT, what if before in (None, what) else "both")


def _clear_all() -> List[EventType]:
    return [SlotSet(slot, None) for slot in form.ALL_SLOTS] + [SlotSet("requested_slot", None)]


def _channel(tracker: Tracker) -> str:
    return "sms" if tracker.get_latest_input_channel() == "sms" else "web"


def _session_started(tracker: Tracker) -> Optional[float]:
    started = None
    for event in tracker.events:
        if event.get("event") == "session_started":
            started = event.get("timestamp")
    return started


def _slots(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in form.ALL_SLOTS}


def _context(tracker: Tracker) -> form.Context:
    profile = service.profile()
    intent = (tracker.latest_message or {}).get("intent") or {}
    return form.Context(intent=intent.get("name"), intent_confidence=float(intent.get("confidence") or 0.0),
                        profile=profile, tz=profile.timezone)


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_callback_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return form.required_slots(_slots(tracker))

    def _validate(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
                  tracker: Tracker) -> Dict[Text, Any]:
        updates, messages = form.validate(slot, value, _slots(tracker), _context(tracker))
        for response, values in messages:
            dispatcher.utter_message(response=response, **values)
        return updates


add_slot_validators(ValidateCallbackForm, form.FORM_SLOTS)


class AskCallbackConfirm(Action):
    def name(self) -> Text:
        return "action_ask_callback_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        text = form.summary(_slots(tracker), service.profile().timezone)
        dispatcher.utter_message(response="utter_ask_callback_confirm", callback_summary=text)
        return []


class SubmitCallback(Action):
    def name(self) -> Text:
        return "action_submit_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        slots = _slots(tracker)
        if slots.get(form.CANCELLED) or slots.get(form.CONSENT) is not True or slots.get(form.CONFIRM) is not True:
            dispatcher.utter_message(response="utter_callback_cancelled")
            return _clear_all()
        outcome = await service.save(slots, tracker.sender_id, _session_started(tracker), _channel(tracker),
                                     tz=service.profile().timezone)
        if outcome.status == "refused" and outcome.problems == ("times_passed",):
            # Every safe time ended while the person was answering: keep the rest, ask for new times.
            dispatcher.utter_message(response="utter_callback_times_past")
            return [SlotSet(form.TIMES, None), SlotSet(form.CONFIRM, None), FollowupAction("callback_form")]
        if outcome.status == "created":
            dispatcher.utter_message(response="utter_callback_booked", callback_reference=outcome.reference)
        elif outcome.status == "duplicate":
            dispatcher.utter_message(response="utter_callback_already_booked", callback_reference=outcome.reference)
        else:
            dispatcher.utter_message(response="utter_callback_save_failed")
            return _clear_all()
        return _clear_all() + [kept(tracker, "callback")]


class CancelCallback(Action):
    def name(self) -> Text:
        return "action_cancel_callback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_callback_cancelled")
        return [ActiveLoop(None)] + _clear_all()
