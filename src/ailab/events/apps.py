from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "ailab.events"
    label = "events"
    verbose_name = "Events"
