from __future__ import annotations

from django.urls import path

from notifications.api import views, webhooks

urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification-list"),
    path("unread-count/", views.UnreadCountView.as_view(), name="notification-unread-count"),
    path("read-all/", views.MarkAllReadView.as_view(), name="notification-read-all"),
    path("<int:notification_id>/read/", views.MarkReadView.as_view(), name="notification-read"),
    path("deliveries/", views.DeliveryListView.as_view(), name="delivery-list"),
    path(
        "deliveries/<int:delivery_id>/retry/",
        views.DeliveryRetryView.as_view(),
        name="delivery-retry",
    ),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<int:webhook_id>/", webhooks.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<int:webhook_id>/rotate-secret/",
        webhooks.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/",
        webhooks.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        webhooks.WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("twilio/status/", views.TwilioStatusCallbackView.as_view(), name="twilio-status-callback"),
]
