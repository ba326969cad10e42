from django.apps import AppConfig


class ServideskSharedConfig(AppConfig):
    name = "servidesk_shared"
    verbose_name = "Servidesk shared"

    def ready(self) -> None:
        # Registering the schema extensions is the import itself.
        from servidesk_shared import openapi  # noqa: F401, PLC0415
