from django.urls import path

from ailab.events import views

urlpatterns = [
    path("events/", views.event_list, name="event-list"),
    path("events/<int:event_id>/", views.event_detail, name="event-detail"),
    path("events/<int:event_id>/calendar.ics", views.event_ics, name="event-ics"),
    path("events/<int:event_id>/register", views.register, name="event-register"),
    path("events/<int:event_id>/manage", views.manage, name="event-manage"),
    path(
        "events/registrations/<int:registration_id>/withdraw", views.withdraw, name="event-withdraw"
    ),
    path("events/registrations/<int:registration_id>/decide", views.decide, name="event-decide"),
    path(
        "events/registrations/<int:registration_id>/certificate.pdf",
        views.certificate_download,
        name="event-certificate",
    ),
    path("events/tickets/<str:ticket>/", views.ticket, name="event-ticket"),
    path(
        "events/sessions/<int:session_id>/check-in", views.self_check_in, name="event-self-check-in"
    ),
    path(
        "events/sessions/<int:session_id>/staff-check-in",
        views.staff_check_in,
        name="event-staff-check-in",
    ),
    path("verify/<str:code>", views.verify, name="certificate-verify"),
]
