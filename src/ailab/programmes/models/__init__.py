"""Programmes, intakes, applications, reviews and cohorts (split by domain)."""

from ailab.programmes.models.application import (
    APPLICATION_TRANSITIONS,
    Application,
    ApplicationStatus,
    Attachment,
    TeamMember,
    application_transition,
)
from ailab.programmes.models.cohort import (
    CheckIn,
    Cohort,
    DemoDay,
    MentorAssignment,
    Milestone,
    Participation,
    ParticipationStatus,
)
from ailab.programmes.models.programme import (
    Criterion,
    Intake,
    Programme,
    ProgrammeKind,
    Question,
)
from ailab.programmes.models.review import (
    ConflictDeclaration,
    CriterionScore,
    Review,
    ReviewAssignment,
)

__all__ = [
    "APPLICATION_TRANSITIONS",
    "Application",
    "ApplicationStatus",
    "Attachment",
    "CheckIn",
    "Cohort",
    "ConflictDeclaration",
    "Criterion",
    "CriterionScore",
    "DemoDay",
    "Intake",
    "MentorAssignment",
    "Milestone",
    "Participation",
    "ParticipationStatus",
    "Programme",
    "ProgrammeKind",
    "Question",
    "Review",
    "ReviewAssignment",
    "TeamMember",
    "application_transition",
]
