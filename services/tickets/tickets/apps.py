from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TicketsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tickets"
    verbose_name = _("Tickets")

    def ready(self) -> None:
        from tickets import calendars, categories, events  # noqa: PLC0415
        from tickets.api import schema  # noqa: F401, PLC0415  (registers the OpenAPI fixes)

        events.connect()
        categories.connect()
        calendars.connect()
