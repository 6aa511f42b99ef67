from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "ailab.compute"
    label = "compute"
    verbose_name = "Compute"
