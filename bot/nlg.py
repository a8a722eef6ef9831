"""Response generation inside the Rasa server, with the organisation profile's values filled in.

Domain responses use placeholders such as {org_name} or {team_phone}. This generator fills them from
the profile (reloaded when the file changes), so changing the profile changes the answers at once,
without retraining and without the action server. Slot values set in the conversation win.
Configured in endpoints.yml as `nlg: type: bot.nlg.ProfileNLG`.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot.profile import ProfileCache
from bot.settings import load_settings


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
        return self.generate_from_slots(
            utter_action, self.values(tracker.current_slot_values()), output_channel, **kwargs
        )
