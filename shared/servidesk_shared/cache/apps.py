from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "servidesk_shared.cache"
    label = "servidesk_cache"
    verbose_name = "Shared cache table"
