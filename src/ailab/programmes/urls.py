from django.urls import path

from ailab.programmes import views, views_cohorts, views_review

urlpatterns = [
    path("calls/", views.call_list, name="call-list"),
    path("calls/new/", views.intake_new, name="intake-new"),
    path("calls/<int:intake_id>/", views.call_detail, name="call-detail"),
    path("calls/<int:intake_id>/apply/", views.application_new, name="application-new"),
    path("applications/", views.my_applications, name="application-list"),
    path("applications/<int:application_id>/", views.application_detail, name="application-detail"),
    path(
        "attachments/<int:attachment_id>/download/",
        views.attachment_download,
        name="attachment-download",
    ),
    path("reviews/", views_review.review_dashboard, name="review-dashboard"),
    path("reviews/conflicts/", views.conflict_declare, name="conflict-declare"),
    path("reviews/<int:assignment_id>/", views_review.review_form, name="review-form"),
    path("intakes/<int:intake_id>/pipeline/", views_review.intake_pipeline, name="intake-pipeline"),
    path(
        "intakes/<int:intake_id>/pipeline/action/",
        views_review.pipeline_action,
        name="pipeline-action",
    ),
    path("cohorts/", views_cohorts.cohort_list, name="cohort-list"),
    path("cohorts/<int:cohort_id>/", views_cohorts.cohort_detail, name="cohort-detail"),
    path(
        "participations/<int:participation_id>/graduate/",
        views_cohorts.participation_graduate,
        name="participation-graduate",
    ),
    path(
        "check-ins/<int:check_in_id>/report/",
        views_cohorts.check_in_report,
        name="check-in-report",
    ),
]
