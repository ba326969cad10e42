from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "servidesk_shared.outbox"
    label = "servidesk_outbox"
    verbose_name = "Event outbox and inbox"
    default_auto_field = "django.db.models.BigAutoField"
