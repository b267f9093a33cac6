from django.apps import AppConfig


class ReplayappConfig(AppConfig):
    name = "tests.replayapp"
    label = "replayapp"
