"""Shared wiring for FormValidationActions whose slots are all validated by one `_validate` method."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


def _make_validator(slot: str):
    def validate(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                 domain: DomainDict) -> Dict[Text, Any]:
        return self._validate(slot, slot_value, dispatcher, tracker)

    validate.__name__ = f"validate_{slot}"
    return validate


def add_slot_validators(cls: type, slots: Iterable[str]) -> None:
    """Give `cls` a `validate_<slot>` method per slot (rasa_sdk finds them by name), each delegating
    to `cls._validate(slot, value, dispatcher, tracker)`."""
    for slot in slots:
        setattr(cls, f"validate_{slot}", _make_validator(slot))
