"""The profile (phone, language, notification preferences), the password and the
notification bell and feed."""

from __future__ import annotations

import pytest
from django.test import Client
from portal.api.session import TOKENS_KEY
from portal.views.account import SOCIAL_LINK_NONCE_KEY

from tests.fakes import FakeApis, error, page, profile_json, token

pytestmark = pytest.mark.django_db

ME = profile_json()
FEED = [
    {
        "id": 11,
        "event_type": "ticket.status_changed",
        "ticket_id": 41,
        "title": "SD-1041 resuelto",
        "body": "Su ticket se ha resuelto.",
        "read": False,
        "created_at": "2026-03-02T10:00:00Z",
    }
]


def test_the_profile_saves_phone_language_and_preferences(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=ME)
    apis.on("accounts", "PATCH", "me/", body=ME | {"language": "en", "phone": "+34600111222"})
    html = client_user.get("/profile/").content.decode()
    assert 'value="ana@example.com"' in html
    response = client_user.post(
        "/profile/",
        {
            "full_name": "Ana Cliente",
            "email": "ana@example.com",
            "phone": "600 111 222",
            "language": "en",
            "notify_email": "on",
            "notify_sms": "on",
        },
    )
    assert response.status_code == 302
    assert response.cookies["servidesk_language"].value == "en"
    # The email is unchanged: it is not sent, so the save needs no password.
    assert apis.called("accounts", "PATCH", "me/")[0].body == {
        "full_name": "Ana Cliente",
        "phone": "600 111 222",
        "language": "en",
        "notify_email": True,
        "notify_sms": True,
    }


def test_profile_errors_from_accounts_are_shown_next_to_the_fields(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=ME)
    apis.on(
        "accounts",
        "PATCH",
        "me/",
        400,
        error(
            "Invalid.",
            {
                "phone": ["Introduzca un número de teléfono válido."],
                "notify_sms": ["Añada un teléfono para recibir SMS."],
            },
        ),
    )
    response = client_user.post(
        "/profile/",
        {"email": "ana@example.com", "phone": "abc", "language": "es", "notify_sms": "on"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_phone-errors"' in html
    assert 'id="id_notify_sms-errors"' in html
    assert "Introduzca un número de teléfono válido." in html


def test_changing_the_password_keeps_this_session_with_the_new_pair(
    client_user: Client, apis: FakeApis
) -> None:
    fresh = token(lifetime=899)
    apis.on("accounts", "POST", "me/password/", body={"access": fresh, "refresh": "r-new"})
    response = client_user.post(
        "/profile/password/",
        {
            "current_password": "old-password",
            "password": "a-new-passphrase",
            "password_again": "a-new-passphrase",
        },
    )
    assert response.status_code == 302
    assert client_user.session[TOKENS_KEY] == {"access": fresh, "refresh": "r-new"}
    assert apis.called("accounts", "POST", "me/password/")[0].body == {
        "current_password": "old-password",
        "new_password": "a-new-passphrase",
    }


def test_the_bell_shows_the_unread_count(client_user: Client, apis: FakeApis) -> None:
    apis.on("notifier", "GET", "unread-count/", body={"count": 3})
    apis.on("tickets", "GET", "", body=page([]))
    html = client_user.get("/tickets/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="unread-count">3<' in html
    assert "unread" in html


def test_the_feed_lists_notifications_and_opens_their_ticket(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("notifier", "GET", "", body=page(FEED))
    apis.on("notifier", "POST", "11/read/", 204)
    html = client_user.get("/notifications/?unread=1").content.decode()
    assert apis.called("notifier", "GET", "")[0].params == {"unread": ["true"]}
    assert "SD-1041 resuelto" in html
    assert "/notifications/11/open/" in html
    response = client_user.post("/notifications/11/open/", {"ticket_id": "41"})
    assert response["Location"] == "/tickets/41/"
    assert apis.called("notifier", "POST", "11/read/")


def test_all_notifications_can_be_marked_read(client_user: Client, apis: FakeApis) -> None:
    apis.on("notifier", "POST", "read-all/", 204)
    response = client_user.post("/notifications/read-all/")
    assert response["Location"] == "/notifications/"
    assert apis.called("notifier", "POST", "read-all/")


def test_the_feed_says_when_notifier_is_down(client_user: Client, apis: FakeApis) -> None:
    apis.down.add("notifier")
    response = client_user.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 503
    assert "Not available right now: Notifications" in response.content.decode()


# --- Confirmed contacts (security round two) --------------------------------------------

CONFIRMED = ME | {"email_verified": True, "phone": "+34600111222", "phone_verified": True}
PROFILE_FORM = {"full_name": "Ana Cliente", "phone": "", "language": "es", "notify_email": "on"}


def test_the_profile_marks_unconfirmed_contacts_and_offers_to_confirm_them(
    client_user: Client, apis: FakeApis
) -> None:
    unconfirmed = ME | {
        "email_verified": False,
        "phone": "+34600111222",
        "phone_verified": False,
        "pending_email": "ana.nueva@example.com",
    }
    apis.on("accounts", "GET", "me/", body=unconfirmed)

    html = client_user.get("/profile/").content.decode()  # Spanish first

    email = html[html.index('data-testid="email-status"') :].split("</dd>")[0]
    phone = html[html.index('data-testid="phone-status"') :].split("</dd>")[0]
    pending = html[html.index('data-testid="pending-email"') :].split("</dd>")[0]
    assert "ana@example.com" in email
    assert "Sin confirmar" in email
    assert "Sin confirmar" in phone
    assert "ana.nueva@example.com" in pending
    assert "Pendiente de confirmación" in pending
    assert 'action="/profile/email/send-confirmation/"' in html
    assert 'action="/profile/phone/verify/"' in html
    assert 'action="/profile/phone/send-code/"' in html
    assert 'autocomplete="one-time-code"' in html


def test_confirmed_contacts_are_shown_as_such_without_the_forms(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED)
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Unconfirmed" not in html
    assert html.count(">Confirmed<") == 2
    assert "/profile/email/send-confirmation/" not in html
    assert "/profile/phone/verify/" not in html


def test_an_email_change_sends_the_password_and_says_a_link_went_to_the_new_address(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED)
    apis.on("accounts", "PATCH", "me/", body=CONFIRMED | {"pending_email": "nueva@example.com"})
    response = client_user.post(
        "/profile/",
        PROFILE_FORM
        | {"email": "nueva@example.com", "phone": "+34600111222", "current_password": "la-clave"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 302
    sent = apis.called("accounts", "PATCH", "me/")[0].body
    assert sent["email"] == "nueva@example.com"
    assert sent["current_password"] == "la-clave"
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "We have sent a link to nueva@example.com." in html
    assert "until then we keep using the current one" in html


def test_an_email_change_without_the_password_shows_what_accounts_asks_for(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED)
    apis.on(
        "accounts",
        "PATCH",
        "me/",
        400,
        error("Invalid.", {"current_password": ["Escriba su contraseña actual."]}),
    )
    response = client_user.post("/profile/", PROFILE_FORM | {"email": "nueva@example.com"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "current_password" not in apis.called("accounts", "PATCH", "me/")[0].body
    assert 'id="id_current_password-errors"' in html
    assert "Escriba su contraseña actual." in html


def test_the_password_is_only_sent_with_an_email_change(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED)
    apis.on("accounts", "PATCH", "me/", body=CONFIRMED)
    data = PROFILE_FORM | {"email": "ana@example.com", "current_password": "typed-anyway"}
    client_user.post("/profile/", data)
    sent = apis.called("accounts", "PATCH", "me/")[0].body
    assert "email" not in sent
    assert "current_password" not in sent


def test_a_new_phone_number_asks_for_its_code(client_user: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "me/", body=ME)
    apis.on("accounts", "PATCH", "me/", body=ME | {"phone": "+34600999888"})
    client_user.post(
        "/profile/",
        PROFILE_FORM | {"email": "ana@example.com", "phone": "+34600999888"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    apis.on("accounts", "GET", "me/", body=ME | {"phone": "+34600999888"})
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "We have sent a code by SMS to +34600999888." in html
    assert 'action="/profile/phone/verify/"' in html


def test_the_confirmation_link_can_be_sent_again(client_user: Client, apis: FakeApis) -> None:
    apis.on("accounts", "POST", "me/email/send-confirmation/", 204)
    apis.on("accounts", "GET", "me/", body=ME)
    response = client_user.post("/profile/email/send-confirmation/", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Location"] == "/profile/"
    assert len(apis.called("accounts", "POST", "me/email/send-confirmation/")) == 1
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A new confirmation link is on its way." in html


def test_a_refused_resend_shows_the_api_message(client_user: Client, apis: FakeApis) -> None:
    apis.on("accounts", "POST", "me/email/send-confirmation/", 429, error("Throttled."))
    apis.on("accounts", "GET", "me/", body=ME)
    client_user.post("/profile/email/send-confirmation/", HTTP_ACCEPT_LANGUAGE="en")
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Too many attempts. Please wait a moment and try again." in html


def test_a_phone_code_can_be_asked_for_and_entered(client_user: Client, apis: FakeApis) -> None:
    unverified = ME | {"phone": "+34600111222"}
    apis.on("accounts", "GET", "me/", body=unverified)
    apis.on("accounts", "POST", "me/phone/send-code/", 204)
    apis.on("accounts", "POST", "me/phone/verify/", body=unverified | {"phone_verified": True})

    english = {"HTTP_ACCEPT_LANGUAGE": "en"}
    assert client_user.post("/profile/phone/send-code/", **english)["Location"] == "/profile/"
    response = client_user.post("/profile/phone/verify/", {"sms-code": " 123 456 "}, **english)

    assert response["Location"] == "/profile/"
    assert apis.called("accounts", "POST", "me/phone/verify/")[0].body == {"code": "123456"}
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A new code is on its way by SMS." in html
    assert "Your mobile phone number is verified." in html


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"])
def test_a_malformed_phone_code_is_refused_before_calling_accounts(
    client_user: Client, apis: FakeApis, code: str
) -> None:
    apis.on("accounts", "GET", "me/", body=ME | {"phone": "+34600111222"})
    response = client_user.post(
        "/profile/phone/verify/", {"sms-code": code}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_sms-code-errors"' in html
    assert apis.called("accounts", "POST", "me/phone/verify/") == []


def test_a_wrong_phone_code_shows_the_api_message_next_to_the_field(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=ME | {"phone": "+34600111222"})
    apis.on(
        "accounts",
        "POST",
        "me/phone/verify/",
        400,
        error("Invalid.", {"code": ["El código no es correcto o ha caducado."]}),
    )
    response = client_user.post("/profile/phone/verify/", {"sms-code": "654321"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_sms-code-errors"' in html
    assert "El código no es correcto o ha caducado." in html
    assert 'id="sms-errors"' in html  # the summary that takes the focus


# --- The confirmation link ---------------------------------------------------------------


def test_the_confirmation_link_signs_in_first_and_comes_back(
    client: Client, apis: FakeApis
) -> None:
    response = client.get("/confirm-email/tok.en-1:abc/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fconfirm-email%2Ftok.en-1%3Aabc%2F"
    assert apis.calls == []


def test_the_confirmation_link_confirms_the_address(client_user: Client, apis: FakeApis) -> None:
    confirmed = ME | {"email": "nueva@example.com", "email_verified": True}
    apis.on("accounts", "POST", "me/email/confirm/", body=confirmed)
    apis.on("accounts", "GET", "me/", body=confirmed)
    response = client_user.get("/confirm-email/tok.en-1:abc/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert response["Location"] == "/profile/"
    assert apis.called("accounts", "POST", "me/email/confirm/")[0].body == {"token": "tok.en-1:abc"}
    html = client_user.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your email address nueva@example.com is confirmed." in html


def test_a_stale_confirmation_link_shows_the_api_message(
    client_user: Client, apis: FakeApis
) -> None:
    apis.on(
        "accounts",
        "POST",
        "me/email/confirm/",
        400,
        error("Invalid.", {"token": ["El enlace ha caducado. Pida uno nuevo."]}),
    )
    response = client_user.get("/confirm-email/old-token/")
    assert response.status_code == 400
    assert "El enlace ha caducado. Pida uno nuevo." in response.content.decode()


def test_an_overlong_confirmation_token_is_not_sent(client_user: Client, apis: FakeApis) -> None:
    response = client_user.get("/confirm-email/" + "a" * 600 + "/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "This link is not valid any more." in response.content.decode()
    assert apis.called("accounts", "POST", "me/email/confirm/") == []


# --- Staff link their social logins from the profile -------------------------------------

PROVIDERS = [{"id": "google", "name": "Google", "login_url": "/accounts/google/login/"}]


def test_staff_get_a_link_button_for_each_configured_provider(
    technician: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED | {"role": "technician"})
    apis.on("accounts", "GET", "auth/social/providers/", body=PROVIDERS)
    html = technician.get("/profile/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'action="/profile/social/google/link/"' in html
    assert "Link Google" in html
    assert "/profile/social/facebook/link/" not in html  # not configured here


def test_clients_get_no_link_buttons(client_user: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED)
    apis.on("accounts", "GET", "auth/social/providers/", body=PROVIDERS)
    html = client_user.get("/profile/").content.decode()
    assert "/link/" not in html
    assert client_user.post("/profile/social/google/link/").status_code == 403
    assert apis.called("accounts", "POST", "me/social/link/") == []


@pytest.mark.parametrize(
    ("answered", "goes_to"),
    [
        ("/accounts/social/link/?token=t-1", "/accounts/social/link/?token=t-1"),
        # accounts may name its public address; the browser goes to ACCOUNTS_BROWSER_URL.
        (
            "http://gateway.example/accounts/social/link/?token=t-1",
            "/accounts/social/link/?token=t-1",
        ),
    ],
)
def test_linking_sends_the_browser_where_accounts_says(
    technician: Client, apis: FakeApis, answered: str, goes_to: str
) -> None:
    apis.on("accounts", "POST", "me/social/link/", body={"url": answered})
    response = technician.post("/profile/social/google/link/")
    assert response.status_code == 302
    # Bound to this browser like a social sign-in: the nonce kept in its session goes along.
    nonce = technician.session[SOCIAL_LINK_NONCE_KEY]
    assert len(nonce) >= 32
    assert response["Location"] == f"{goes_to}&web_nonce={nonce}"
    assert apis.called("accounts", "POST", "me/social/link/")[0].body == {"provider": "google"}


@pytest.mark.parametrize(
    "answered",
    ["https://evil.example/phish", "https://evil.example/", "/admin/", "javascript:alert(1)",
     "/accounts/../admin/", "ftp://x/accounts/a", ""],
)  # fmt: skip
def test_linking_never_redirects_off_the_flow(
    technician: Client, apis: FakeApis, answered: str
) -> None:
    apis.on("accounts", "POST", "me/social/link/", body={"url": answered})
    response = technician.post("/profile/social/google/link/")
    assert response["Location"] == "/profile/"


def test_a_link_url_on_another_host_keeps_only_its_accounts_path(
    technician: Client, apis: FakeApis
) -> None:
    apis.on("accounts", "POST", "me/social/link/", body={"url": "//evil.example/accounts/x?t=1"})
    response = technician.post("/profile/social/google/link/")
    nonce = technician.session[SOCIAL_LINK_NONCE_KEY]
    assert response["Location"] == f"/accounts/x?t=1&web_nonce={nonce}"


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("linked=google", "Your Google account is linked: you can use it to sign in."),
        ("link_error=already_linked", "already linked to another Servidesk account"),
        ("link_error=expired", "The linking request has expired."),
        ("link_error=<b>x</b>", "The provider could not link your account."),
        ("linked=<b>x</b>", None),
    ],
)
def test_the_result_of_a_link_is_explained_on_the_profile(
    technician: Client, apis: FakeApis, query: str, shown: str | None
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED | {"role": "technician"})
    html = technician.get(f"/profile/?{query}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<b>x</b>" not in html
    if shown is None:
        assert "notice-success" not in html
    else:
        assert shown in html


def test_a_refused_link_says_why(technician: Client, apis: FakeApis) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED | {"role": "technician"})
    refusal = error("Invalid.", {"provider": ["Este proveedor no está disponible aquí."]})
    apis.on("accounts", "POST", "me/social/link/", 400, refusal)
    response = technician.post("/profile/social/facebook/link/")
    assert response["Location"] == "/profile/"
    assert "Este proveedor no está disponible aquí." in technician.get("/profile/").content.decode()


# --- Finishing a link: accounts sends the browser back with ?link_code= -------------------

LINK_CONFIRM = "me/social/link/confirm/"


def start_link(browser: Client, apis: FakeApis) -> str:
    """Press "Link Google" on the profile; the nonce this browser keeps for it."""
    apis.on("accounts", "POST", "me/social/link/", body={"url": "/accounts/social/link/?token=t"})
    browser.post("/profile/social/google/link/")
    nonce: str = browser.session[SOCIAL_LINK_NONCE_KEY]
    return nonce


def test_the_browser_that_started_a_link_finishes_it(technician: Client, apis: FakeApis) -> None:
    nonce = start_link(technician, apis)
    apis.on("accounts", "POST", LINK_CONFIRM, body={"provider": "google"})
    response = technician.get("/profile/?link_code=code-1")
    assert response.status_code == 302
    assert response["Location"] == "/profile/?linked=google"  # the code leaves the address bar
    assert apis.called("accounts", "POST", LINK_CONFIRM)[0].body == {
        "code": "code-1",
        "nonce": nonce,
    }
    assert SOCIAL_LINK_NONCE_KEY not in technician.session  # single use


def test_a_link_code_in_a_browser_that_started_no_link_is_refused(
    client_user: Client, apis: FakeApis
) -> None:
    """The attack: the victim (signed in here) opens an attacker's link URL and goes
    through Google; accounts sends this browser back with the attacker's pending link.
    web confirms it as the victim with no nonce, so accounts uses it up and refuses it."""
    refusal = error(
        "This link was started from another account, so nothing was linked.", code="not_yours"
    )
    apis.on("accounts", "POST", LINK_CONFIRM, 400, refusal)
    apis.on("accounts", "GET", "me/", body=CONFIRMED)
    response = client_user.get("/profile/?link_code=attackers-code", HTTP_ACCEPT_LANGUAGE="en")
    assert response["Location"] == "/profile/?link_error=not_yours"
    assert apis.called("accounts", "POST", LINK_CONFIRM)[0].body == {
        "code": "attackers-code",
        "nonce": "",
    }
    html = client_user.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This link was started from another account, so nothing was linked." in html
    spanish = client_user.get(response["Location"], HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Esta vinculación se inició desde otra cuenta" in spanish


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("other_browser", "other_browser"),
        ("expired", "expired"),
        ("already_linked", "already_linked"),
        ("something_new", "failed"),
        (None, "failed"),
    ],
)
def test_a_refused_confirmation_says_why(
    technician: Client, apis: FakeApis, code: str | None, reason: str
) -> None:
    start_link(technician, apis)
    extra = {"code": code} if code else {}
    apis.on("accounts", "POST", LINK_CONFIRM, 400, error("No.", **extra))
    response = technician.get("/profile/?link_code=code-1")
    assert response["Location"] == f"/profile/?link_error={reason}"
    assert SOCIAL_LINK_NONCE_KEY not in technician.session


def test_a_signed_out_browser_signs_in_first_and_comes_back(client: Client, apis: FakeApis) -> None:
    response = client.get("/profile/?link_code=code-1")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fprofile%2F%3Flink_code%3Dcode-1"
    assert apis.called("accounts", "POST", LINK_CONFIRM) == []


@pytest.mark.parametrize("code", ["", "x" * 129])
def test_a_link_code_that_cannot_be_one_is_not_sent(
    technician: Client, apis: FakeApis, code: str
) -> None:
    response = technician.get("/profile/", {"link_code": code})
    assert response["Location"] == "/profile/?link_error=expired"
    assert apis.called("accounts", "POST", LINK_CONFIRM) == []


def test_a_confirmation_while_accounts_is_down_keeps_the_nonce(
    technician: Client, apis: FakeApis
) -> None:
    nonce = start_link(technician, apis)
    apis.down.add("accounts")
    response = technician.get("/profile/?link_code=code-1")
    assert response["Location"] == "/profile/"
    assert technician.session[SOCIAL_LINK_NONCE_KEY] == nonce


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("not_yours", "This link was started from another account, so nothing was linked."),
        ("other_browser", "This link was not started in this browser, so nothing was linked."),
    ],
)
def test_the_new_refusals_are_explained(
    technician: Client, apis: FakeApis, reason: str, shown: str
) -> None:
    apis.on("accounts", "GET", "me/", body=CONFIRMED | {"role": "technician"})
    html = technician.get(f"/profile/?link_error={reason}", HTTP_ACCEPT_LANGUAGE="en")
    assert shown in html.content.decode()
