from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "ailab.common"
    label = "common"
    verbose_name = "Common"
