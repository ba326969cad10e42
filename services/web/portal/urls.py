from django.urls import path, register_converter

from portal.views import (
    account,
    admin,
    attachments,
    auth,
    csat,
    integrations,
    live,
    lookups,
    macros,
    monitoring,
    reports,
    tickets,
)

app_name = "portal"


class OpaqueIdConverter:
    """An API id in a path: opaque, but never anything that could change the API's path."""

    regex = "[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(OpaqueIdConverter, "id")


class RatingTokenConverter:
    """A rating link's token (Django's URL-safe signed value: letters, digits, ``_-:.``)."""

    regex = "[A-Za-z0-9_.:-]{1,512}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(RatingTokenConverter, "rating_token")

urlpatterns = [
    path("", account.home, name="home"),
    # Signing in and out
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("register/", auth.register, name="register"),
    # accounts sends the browser here at the end of a social login (SOCIAL_LOGIN_COMPLETE_PATH).
    path("login/social/", auth.social_complete, name="social_complete"),
    path("login/social/<slug:provider>/", auth.social_start, name="social_start"),
    path("password-reset/", auth.password_reset, name="password_reset"),
    # The link of accounts' reset email (WEB_BASE_URL/password-reset/confirm/<uid>/<token>/).
    path(
        "password-reset/confirm/<str:uid>/<str:token>/",
        auth.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("language/", auth.set_language, name="set_language"),
    # The user's own things
    path("profile/", account.profile, name="profile"),
    path("profile/password/", account.password_change, name="password_change"),
    path("profile/availability/", account.availability, name="availability"),
    path(
        "profile/email/send-confirmation/",
        account.email_send_confirmation,
        name="email_send_confirmation",
    ),
    path("profile/phone/send-code/", account.phone_send_code, name="phone_send_code"),
    path("profile/phone/verify/", account.phone_verify, name="phone_verify"),
    path("profile/social/<slug:provider>/link/", account.social_link, name="social_link"),
    # The link of accounts' confirmation mail (WEB_BASE_URL/confirm-email/<token>/).
    path("confirm-email/<str:token>/", account.email_confirm, name="email_confirm"),
    path("notifications/", account.notifications, name="notifications"),
    path("notifications/read-all/", account.notifications_read_all, name="notifications_read_all"),
    path(
        "notifications/<id:notification_id>/open/",
        account.notification_open,
        name="notification_open",
    ),
    # Tickets
    path("tickets/", tickets.ticket_list, name="ticket_list"),
    path("tickets/new/", tickets.ticket_create, name="ticket_create"),
    # Before the ticket's own paths: these words are never a ticket id.
    path("tickets/tags/", lookups.tag_suggestions, name="tag_suggestions"),
    path("tickets/clients/", lookups.client_lookup, name="client_lookup"),
    path("tickets/bulk/", tickets.ticket_bulk, name="ticket_bulk"),
    path("tickets/views/", tickets.view_create, name="view_create"),
    path("tickets/views/<id:view_id>/delete/", tickets.view_delete, name="view_delete"),
    path("tickets/<id:ticket_id>/", tickets.ticket_detail, name="ticket_detail"),
    path("tickets/<id:ticket_id>/typing/", live.ticket_typing, name="ticket_typing"),
    path("tickets/<id:ticket_id>/edit/", tickets.ticket_edit, name="ticket_edit"),
    path("tickets/<id:ticket_id>/status/", tickets.ticket_status, name="ticket_status"),
    path("tickets/<id:ticket_id>/assign/", tickets.ticket_assign, name="ticket_assign"),
    path("tickets/<id:ticket_id>/merge/", tickets.ticket_merge, name="ticket_merge"),
    path(
        "tickets/<id:ticket_id>/apply-response/",
        tickets.ticket_apply_macro,
        name="ticket_apply_macro",
    ),
    path(
        "tickets/<id:ticket_id>/attachments/<id:attachment_id>/",
        attachments.attachment_download,
        name="attachment_download",
    ),
    # The rating link of the resolution mail (WEB_BASE_URL/csat/<token>/?rating=good|bad):
    # anyone holding it, no sign-in.
    path("csat/<rating_token:token>/", csat.rate, name="csat"),
    # Administration
    path("admin/users/", admin.users, name="admin_users"),
    path("admin/users/<id:user_id>/role/", admin.user_role, name="admin_user_role"),
    path("admin/users/<id:user_id>/active/", admin.user_active, name="admin_user_active"),
    path("admin/categories/", admin.categories, name="admin_categories"),
    path("admin/categories/<slug:slug>/", admin.category_edit, name="admin_category_edit"),
    path("admin/sla/", admin.sla_targets, name="admin_sla"),
    path("admin/calendars/", admin.calendars, name="admin_calendars"),
    path("admin/calendars/<id:calendar_id>/", admin.calendar_edit, name="admin_calendar_edit"),
    path(
        "admin/calendars/<id:calendar_id>/delete/",
        admin.calendar_delete,
        name="admin_calendar_delete",
    ),
    path("admin/teams/", admin.teams, name="admin_teams"),
    path("admin/teams/<id:team_id>/", admin.team_edit, name="admin_team_edit"),
    path("admin/teams/<id:team_id>/delete/", admin.team_delete, name="admin_team_delete"),
    # Integrations: API keys (accounts) and webhooks with their delivery log (notifier).
    path("admin/api-keys/", integrations.api_keys, name="admin_api_keys"),
    path(
        "admin/api-keys/<id:key_id>/revoke/",
        integrations.api_key_revoke,
        name="admin_api_key_revoke",
    ),
    path("admin/webhooks/", integrations.webhooks, name="admin_webhooks"),
    path("admin/webhooks/<id:webhook_id>/", integrations.webhook_detail, name="admin_webhook"),
    path(
        "admin/webhooks/<id:webhook_id>/active/",
        integrations.webhook_active,
        name="admin_webhook_active",
    ),
    path(
        "admin/webhooks/<id:webhook_id>/rotate-secret/",
        integrations.webhook_rotate_secret,
        name="admin_webhook_rotate_secret",
    ),
    path(
        "admin/webhooks/<id:webhook_id>/delete/",
        integrations.webhook_delete,
        name="admin_webhook_delete",
    ),
    path(
        "admin/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver/",
        integrations.webhook_redeliver,
        name="admin_webhook_redeliver",
    ),
    # Monitoring: email and SMS deliveries (notifier), dead letters, the audit trail.
    path("admin/deliveries/", monitoring.deliveries, name="admin_deliveries"),
    path(
        "admin/deliveries/<id:delivery_id>/retry/",
        monitoring.delivery_retry,
        name="admin_delivery_retry",
    ),
    path("admin/dead-letters/", monitoring.dead_letters, name="admin_dead_letters"),
    path(
        "admin/dead-letters/<slug:service>/<str:key>/replay/",
        monitoring.dead_letter_replay,
        name="admin_dead_letter_replay",
    ),
    path(
        "admin/dead-letters/<slug:service>/<str:key>/discard/",
        monitoring.dead_letter_discard,
        name="admin_dead_letter_discard",
    ),
    path("admin/audit/", monitoring.audit, name="admin_audit"),
    # Canned responses: every staff member's own; admins also the shared ones.
    path("responses/", macros.macro_list, name="macros"),
    path("responses/<id:macro_id>/", macros.macro_edit, name="macro_edit"),
    path("responses/<id:macro_id>/delete/", macros.macro_delete, name="macro_delete"),
    path("reports/", reports.dashboard, name="reports"),
    path("reports/charts/<slug:name>.<slug:fmt>", reports.chart, name="report_chart"),
    path("reports/export.<slug:fmt>", reports.export, name="report_export"),
    # Exports made in the background by reports (issue 22).
    path("reports/exports/", reports.export_start, name="report_export_start"),
    path("reports/exports/<uuid:job_id>/", reports.export_job, name="report_export_job"),
    path(
        "reports/exports/<uuid:job_id>/status/",
        reports.export_status,
        name="report_export_status",
    ),
    path(
        "reports/exports/<uuid:job_id>/download/",
        reports.export_download,
        name="report_export_download",
    ),
]
