"""django-helpdesk's URLs at the root, so its API answers at /api/tickets/."""

from django.urls import include, path

urlpatterns = [path("", include("helpdesk.urls"))]
