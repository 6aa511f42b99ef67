"""Writes for programmes (DESIGN.md rule 1), split by domain; import from here."""

from ailab.programmes.services.application import (
    application_create,
    application_submit,
    application_update,
    application_withdraw,
    attachment_add,
)
from ailab.programmes.services.cohort import (
    check_in_report,
    demo_day_schedule,
    mentor_assign,
    milestone_add,
    participation_graduate,
    participation_withdraw,
)
from ailab.programmes.services.intake import intake_create, intake_update, programme_create
from ailab.programmes.services.review import (
    AutoAssignResult,
    conflict_declare,
    review_assign,
    review_auto_assign,
    review_submit,
)
from ailab.programmes.services.selection import (
    application_shortlist,
    award_grant,
    awards_grant,
    selection_decide,
)

__all__ = [
    "AutoAssignResult",
    "application_create",
    "application_shortlist",
    "application_submit",
    "application_update",
    "application_withdraw",
    "attachment_add",
    "award_grant",
    "awards_grant",
    "check_in_report",
    "conflict_declare",
    "demo_day_schedule",
    "intake_create",
    "intake_update",
    "mentor_assign",
    "milestone_add",
    "participation_graduate",
    "participation_withdraw",
    "programme_create",
    "review_assign",
    "review_auto_assign",
    "review_submit",
    "selection_decide",
]
