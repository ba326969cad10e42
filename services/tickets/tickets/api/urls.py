"""Routes under ``/api/tickets/`` (mounted by ``core.urls``)."""

from __future__ import annotations

from django.urls import path, register_converter

from tickets.api import calendars, teams, views, workspace


class TicketIdConverter:
    """A positive id that fits a PostgreSQL bigint; anything else is a JSON 404, not a 500."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(TicketIdConverter, "ticket")

urlpatterns = [
    path("", views.TicketListCreateView.as_view(), name="ticket-list"),
    path("categories/", views.CategoryListCreateView.as_view(), name="category-list"),
    path("categories/<slug:slug>/", views.CategoryDetailView.as_view(), name="category-detail"),
    path("sla-targets/", views.SlaTargetListView.as_view(), name="sla-target-list"),
    path(
        "sla-targets/<str:priority>/",
        views.SlaTargetDetailView.as_view(),
        name="sla-target-detail",
    ),
    path("calendars/", calendars.CalendarListCreateView.as_view(), name="calendar-list"),
    path("calendars/<ticket:pk>/", calendars.CalendarDetailView.as_view(), name="calendar-detail"),
    path("csat/<str:token>/", calendars.RatingLinkView.as_view(), name="csat"),
    path("assignees/", views.AssigneeListView.as_view(), name="assignee-list"),
    path("assignees/me/", teams.AvailabilityView.as_view(), name="assignee-me"),
    path("teams/", teams.TeamListCreateView.as_view(), name="team-list"),
    path("teams/<ticket:pk>/", teams.TeamDetailView.as_view(), name="team-detail"),
    path("tags/", teams.TagSuggestionView.as_view(), name="tag-list"),
    path("clients/", views.ClientListView.as_view(), name="client-list"),
    path("macros/", workspace.MacroListCreateView.as_view(), name="macro-list"),
    path("macros/<ticket:pk>/", workspace.MacroDetailView.as_view(), name="macro-detail"),
    path("bulk/", workspace.BulkView.as_view(), name="ticket-bulk"),
    path("views/", workspace.SavedViewListCreateView.as_view(), name="view-list"),
    path("views/<ticket:pk>/", workspace.SavedViewDetailView.as_view(), name="view-detail"),
    path("status-counts/", workspace.StatusCountsView.as_view(), name="status-counts"),
    path("<ticket:pk>/", views.TicketDetailView.as_view(), name="ticket-detail"),
    path("<ticket:pk>/status/", views.TicketStatusView.as_view(), name="ticket-status"),
    path("<ticket:pk>/assign/", views.TicketAssignView.as_view(), name="ticket-assign"),
    path("<ticket:pk>/comments/", views.CommentListCreateView.as_view(), name="ticket-comments"),
    path("<ticket:pk>/history/", views.HistoryListView.as_view(), name="ticket-history"),
    path("<ticket:pk>/apply-macro/", workspace.ApplyMacroView.as_view(), name="ticket-apply-macro"),
    path("<ticket:pk>/merge/", workspace.MergeView.as_view(), name="ticket-merge"),
    path(
        "<ticket:pk>/attachments/",
        views.AttachmentListCreateView.as_view(),
        name="ticket-attachments",
    ),
    path(
        "<ticket:pk>/attachments/<ticket:attachment_id>/download/",
        views.AttachmentDownloadView.as_view(),
        name="attachment-download",
    ),
]
