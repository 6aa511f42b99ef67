from django.apps import AppConfig


class FundConfig(AppConfig):
    name = "ailab.fund"
    label = "fund"
    verbose_name = "Fund"
