"""Response generation inside the Rasa server, with the organisation profile's values filled in.

Domain responses use placeholders such as {org_name} or {team_phone}. This generator fills them from
the profile (reloaded when the file changes), so changing the profile changes the answers at once,
without retraining and without the action server. Slot values set in the conversation win.
Configured in endpoints.yml as `nlg: type: bot.nlg.ProfileNLG`.

It also puts the danger check in front of the first reply of a turn whose message the danger layer
marked `danger_check` (bot/nlu/emergency_component.py): danger words that the danger model did not
confirm, or a high-risk disclosure. A high-risk answer (`utter_risk_*`) always gets it, and a
fallback straight after it becomes `utter_fallback_after_check`, never "I'm not sure". The person gets the normal answer, opened by `utter_danger_check` ("Are you in danger right
now? If you are, call 999 …") and a button to the full emergency reply, so a pattern match always
shows 999 first.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text, Tuple

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.profile import ProfileCache
from bot.settings import load_settings

CHECK_RESPONSE = "utter_danger_check"
CHECK_KEY = "danger_check"  # set by bot.nlu.emergency_component (not imported: no TensorFlow here)
# High-risk answers (domain/risk.yml) always open with the check, however the intent was found.
RISK_RESPONSE_PREFIX = "utter_risk_"
# After the check, "Sorry, I'm not sure I've got that right" would be jarring: say this instead.
FALLBACKS = ("utter_fallback", "utter_fallback_again", "utter_default")
AFTER_CHECK_FALLBACK = "utter_fallback_after_check"


class ProfileNLG(TemplatedNaturalLanguageGenerator):
    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        profile: Optional[ProfileCache] = None,
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)
        self.profile = profile or ProfileCache(load_settings().profile_path)

    def values(self, tracker_slots: Dict[Text, Any]) -> Dict[Text, Any]:
        merged: Dict[Text, Any] = dict(self.profile.get().slots())
        merged.update({k: v for k, v in tracker_slots.items() if v is not None})
        return merged

    async def generate(
        self,
        utter_action: Text,
        tracker: DialogueStateTracker,
        output_channel: Text,
        **kwargs: Any,
    ) -> Optional[Dict[Text, Any]]:
        values = self.values(tracker.current_slot_values())
        if utter_action.startswith("utter_emergency"):
            return self.generate_from_slots(utter_action, values, output_channel, **kwargs)
        first, checked = _turn_state(tracker)
        if first and checked and utter_action in FALLBACKS:
            utter_action = AFTER_CHECK_FALLBACK
        response = self.generate_from_slots(utter_action, values, output_channel, **kwargs)
        if response is None or not first or not (
                checked or utter_action.startswith(RISK_RESPONSE_PREFIX)):
            return response
        check = self.generate_from_slots(CHECK_RESPONSE, values, output_channel, **kwargs)
        return _put_first(check, response) if check else response


def _turn_state(tracker: DialogueStateTracker) -> Tuple[bool, bool]:
    """(this is the first reply of the turn, the turn's message was marked for the danger check)."""
    for event in reversed(tracker.events):
        if isinstance(event, BotUttered):
            return False, False
        if isinstance(event, UserUttered):
            return True, bool((event.parse_data or {}).get(CHECK_KEY))
    return False, False


def _put_first(check: Dict[Text, Any], response: Dict[Text, Any]) -> Dict[Text, Any]:
    merged = dict(response)
    merged["text"] = "\n\n".join(t for t in (check.get("text"), response.get("text")) if t)
    buttons = list(check.get("buttons") or []) + list(response.get("buttons") or [])
    if buttons:
        merged["buttons"] = buttons
    return merged
