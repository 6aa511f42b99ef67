from django.apps import AppConfig


class ProgrammesConfig(AppConfig):
    name = "ailab.programmes"
    label = "programmes"
    verbose_name = "Programmes"
