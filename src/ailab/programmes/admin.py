"""Admin: browse programmes. Changes that carry rules (submission, review, selection,
awards) go through the services and the pages, so most of this is read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ailab.programmes.models import (
    Application,
    CheckIn,
    Cohort,
    ConflictDeclaration,
    Criterion,
    DemoDay,
    Intake,
    Participation,
    Programme,
    Question,
    Review,
    ReviewAssignment,
)


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    """Browse only: these rows change through the services, which hold the rules."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "duration_months"]
    prepopulated_fields = {"slug": ("name",)}


class CriterionInline(ReadOnlyInline):
    model = Criterion


class QuestionInline(ReadOnlyInline):
    model = Question


@admin.register(Intake)
class IntakeAdmin(ReadOnly):
    list_display = ["title", "programme", "opens_at", "closes_at", "capacity_max"]
    list_filter = ["programme"]
    inlines = [CriterionInline, QuestionInline]


@admin.register(Application)
class ApplicationAdmin(ReadOnly):
    list_display = ["organisation", "intake", "status", "submitted_at", "decided_at"]
    list_filter = ["intake", "status"]
    search_fields = ["organisation__name"]


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(ReadOnly):
    list_display = ["application", "reviewer", "created_at"]
    list_filter = ["application__intake"]


@admin.register(Review)
class ReviewAdmin(ReadOnly):
    list_display = ["assignment", "confidence", "submitted_at"]


@admin.register(ConflictDeclaration)
class ConflictDeclarationAdmin(ReadOnly):
    list_display = ["reviewer", "organisation", "reason"]


@admin.register(Cohort)
class CohortAdmin(ReadOnly):
    list_display = ["name", "starts_on", "ends_on"]


@admin.register(Participation)
class ParticipationAdmin(ReadOnly):
    list_display = ["organisation", "programme", "cohort", "status", "starts_on", "ends_on"]
    list_filter = ["programme", "status"]


@admin.register(CheckIn)
class CheckInAdmin(ReadOnly):
    list_display = ["participation", "month", "due_on", "reported_at", "reported_by"]


@admin.register(DemoDay)
class DemoDayAdmin(ReadOnly):
    list_display = ["cohort", "held_at", "venue"]
