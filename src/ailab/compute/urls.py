from django.urls import path

from ailab.compute import views

urlpatterns = [
    path("cluster/", views.cluster_board, name="cluster-board"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/submit/", views.job_submit, name="job-submit"),
    path("jobs/<int:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("allocations/", views.allocation_list, name="allocation-list"),
    path("allocations/<int:allocation_id>/", views.allocation_detail, name="allocation-detail"),
]
