from django.urls import path

from ailab.fund import views

urlpatterns = [
    path("fund/", views.fund_dashboard, name="fund-dashboard"),
]
