"""Admin: browse programmes. Changes that carry rules (submission, review, selection,
awards) go through the services and the pages, so most of this is read-only."""

from __future__ import annotations

from django.contrib import admin

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


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "duration_months"]
    prepopulated_fields = {"slug": ("name",)}


class CriterionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Criterion
    extra = 0


class QuestionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Question
    extra = 0


@admin.register(Intake)
class IntakeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "programme", "opens_at", "closes_at", "capacity_max"]
    list_filter = ["programme"]
    inlines = [CriterionInline, QuestionInline]


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["organisation", "intake", "status", "submitted_at", "decided_at"]
    list_filter = ["intake", "status"]
    search_fields = ["organisation__name"]
    readonly_fields = [f.name for f in Application._meta.fields]


@admin.register(ReviewAssignment)
class ReviewAssignmentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["application", "reviewer", "created_at"]
    list_filter = ["application__intake"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["assignment", "confidence", "submitted_at"]
    readonly_fields = ["assignment", "confidence", "comments", "submitted_at"]


@admin.register(ConflictDeclaration)
class ConflictDeclarationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["reviewer", "organisation", "reason"]


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "starts_on", "ends_on"]


@admin.register(Participation)
class ParticipationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["organisation", "programme", "cohort", "status", "starts_on", "ends_on"]
    list_filter = ["programme", "status"]
    readonly_fields = ["holding", "allocation", "application", "previous"]


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["participation", "month", "due_on", "reported_at", "reported_by"]


@admin.register(DemoDay)
class DemoDayAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["cohort", "held_at", "venue"]
