"""Writes for events (DESIGN.md rule 1), split by domain; import from here."""

from ailab.events.services.attendance import (
    certificate_eligible,
    certificate_issue,
    certificate_issue_all,
    check_in_self,
    check_in_staff,
)
from ailab.events.services.events import (
    event_create,
    form_field_add,
    room_create,
    series_create,
    session_add,
)
from ailab.events.services.registrations import (
    follow_up_submit,
    registration_create,
    registration_decide,
    registration_transition,
    registration_withdraw,
    waiting_list_promote,
)
from ailab.events.services.reminders import reminder_create

__all__ = [
    "certificate_eligible",
    "certificate_issue",
    "certificate_issue_all",
    "check_in_self",
    "check_in_staff",
    "event_create",
    "follow_up_submit",
    "form_field_add",
    "registration_create",
    "registration_decide",
    "registration_transition",
    "registration_withdraw",
    "reminder_create",
    "room_create",
    "series_create",
    "session_add",
    "waiting_list_promote",
]
