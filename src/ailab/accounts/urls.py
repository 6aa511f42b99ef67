from django.urls import path

from ailab.accounts import views, views_people
from ailab.config.views import home

urlpatterns = [
    path("", home, name="home"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("account/organisations/", views.my_organisations, name="my-organisations"),
    path("organisations/new/", views.startup_create, name="startup-create"),
    path(
        "organisations/<int:organisation_id>/members/",
        views.organisation_members,
        name="organisation-members",
    ),
    path("invitations/<str:token>/", views.invitation_answer, name="invitation-answer"),
    path("people/", views_people.people, name="people"),
    path("people/invite/", views_people.people_invite, name="people-invite"),
    path("people/lockouts/", views_people.lockouts, name="lockouts"),
    path(
        "people/lockouts/<int:attempt_id>/clear/",
        views_people.lockout_clear,
        name="lockout-clear",
    ),
    path("people/<int:user_id>/", views_people.person, name="person"),
    path("people/<int:user_id>/active/", views_people.person_active, name="person-active"),
    path("people/<int:user_id>/posix/", views_people.person_posix, name="person-posix"),
]
