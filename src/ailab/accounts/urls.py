from django.urls import path

from ailab.accounts import views
from ailab.config.views import home

urlpatterns = [
    path("", home, name="home"),
    path("account/tokens/", views.tokens, name="tokens"),
    path("account/tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
