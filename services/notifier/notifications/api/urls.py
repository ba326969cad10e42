from __future__ import annotations

from django.urls import path

from notifications.api import views

urlpatterns = [
    path("", views.NotificationListView.as_view(), name="notification-list"),
    path("unread-count/", views.UnreadCountView.as_view(), name="notification-unread-count"),
    path("read-all/", views.MarkAllReadView.as_view(), name="notification-read-all"),
    path("<int:notification_id>/read/", views.MarkReadView.as_view(), name="notification-read"),
    path("deliveries/", views.DeliveryListView.as_view(), name="delivery-list"),
    path("twilio/status/", views.TwilioStatusCallbackView.as_view(), name="twilio-status-callback"),
]
