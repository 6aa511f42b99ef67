from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ailab.accounts"
    label = "accounts"
    verbose_name = "Accounts"
