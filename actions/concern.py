"""Third-party concern actions (thin: the logic is in bot/concern.py).

- validate_concern_form: reads each answer and picks what to ask next.
- action_submit_concern: stores the report once, tells the reporter what happens next, clears the
  slots; if the reporter wants a call back for themselves, the callback booking form follows.
- action_cancel_concern: "stop" or "cancel" during the form: nothing stored, the reporter is told.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.callback import kept
from actions.form_validators import add_slot_validators
from bot import concern


def _slots(tracker: Tracker) -> Dict[str, Any]:
    return {slot: tracker.get_slot(slot) for slot in concern.FORM_SLOTS}


def _clear() -> List[EventType]:
    return [SlotSet(slot, None) for slot in concern.FORM_SLOTS] + [SlotSet("requested_slot", None)]


def _form_started(tracker: Tracker) -> Optional[float]:
    started = None
    for event in tracker.events:
        if event.get("event") == "active_loop" and event.get("name") == "concern_form":
            started = event.get("timestamp")
    return started


class ValidateConcernForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_concern_form"

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        return concern.required_slots(_slots(tracker))

    def _validate(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
        intent = (tracker.latest_message or {}).get("intent", {}).get("name")
        updates, messages = concern.validate(slot, value, intent)
        for response, values in messages:
            dispatcher.utter_message(response=response, **values)
        return updates


add_slot_validators(ValidateConcernForm, concern.FORM_SLOTS)


class SubmitConcern(Action):
    def name(self) -> Text:
        return "action_submit_concern"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        slots = _slots(tracker)
        if slots.get(concern.CONSENT) is not True or not slots.get(concern.DETAILS):
            dispatcher.utter_message(response="utter_concern_not_recorded")
            return _clear()
        channel = "sms" if tracker.get_latest_input_channel() == "sms" else "web"
        outcome = await concern.save(slots, tracker.sender_id, _form_started(tracker), channel)
        if outcome.status == "failed":
            dispatcher.utter_message(response="utter_concern_save_failed")
            return _clear()
        dispatcher.utter_message(response="utter_concern_recorded", concern_reference=outcome.reference)
        events = _clear() + [kept(tracker, "concern")]
        if slots.get(concern.CALLBACK) is True:
            events.append(FollowupAction("callback_form"))
        return events


class CancelConcern(Action):
    def name(self) -> Text:
        return "action_cancel_concern"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_concern_not_recorded")
        return [ActiveLoop(None)] + _clear()
