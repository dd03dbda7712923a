import pytest
from django.core import mail
from django.urls import reverse

from keyfit.core.models import AuditEvent
from keyfit.users.models import APIToken
from keyfit.users.tests.factories import UserFactory

PASSWORD = "correct-horse-battery"


@pytest.mark.django_db
class TestLogin:
    def test_email_login_sets_language_cookie(self, client):
        user = UserFactory(email="li@example.com", language="zh-hans")
        response = client.post(reverse("users:login"), {"email": "LI@example.com", "password": PASSWORD})
        assert response.status_code == 302
        assert response.cookies["django_language"].value == "zh-hans"
        assert int(client.session["_auth_user_id"]) == user.pk

    def test_wrong_password_is_refused(self, client):
        UserFactory(email="li@example.com")
        response = client.post(reverse("users:login"), {"email": "li@example.com", "password": "nope"})
        assert response.status_code == 400
        assert "_auth_user_id" not in client.session

    def test_throttle_locks_out_after_repeated_failures_even_with_right_password(self, client, settings):
        settings.LOGIN_MAX_FAILURES = 3
        UserFactory(email="li@example.com")
        for _ in range(3):
            client.post(reverse("users:login"), {"email": "li@example.com", "password": "wrong"})
        response = client.post(reverse("users:login"), {"email": "li@example.com", "password": PASSWORD})
        assert response.status_code == 429
        assert "_auth_user_id" not in client.session

    def test_inactive_user_cannot_log_in(self, client):
        UserFactory(email="gone@example.com", is_active=False)
        response = client.post(reverse("users:login"), {"email": "gone@example.com", "password": PASSWORD})
        assert response.status_code == 400

    def test_open_redirect_is_ignored(self, client):
        UserFactory(email="li@example.com")
        response = client.post(
            reverse("users:login"),
            {"email": "li@example.com", "password": PASSWORD, "next": "https://evil.example/"},
        )
        assert response["Location"] == "/"

    def test_password_reset_sends_mail_with_working_link(self, client):
        UserFactory(email="li@example.com")
        client.post(reverse("users:password_reset"), {"email": "li@example.com"})
        assert len(mail.outbox) == 1
        link = next(line for line in mail.outbox[0].body.splitlines() if "/password-reset/" in line)
        path = link.split("testserver", 1)[1]
        response = client.get(path, follow=True)
        assert response.context["validlink"] is True


@pytest.mark.django_db
class TestLanguageSwitch:
    def test_switch_saves_on_user_and_renders_chinese(self, client):
        user = UserFactory(language="en")
        client.force_login(user)
        client.post(reverse("users:set_language"), {"language": "zh-hans", "next": "/"})
        user.refresh_from_db()
        assert user.language == "zh-hans"
        html = client.get(reverse("core:home")).content.decode()
        assert "退出" in html  # "Log out"


@pytest.mark.django_db
class TestApiTokens:
    def test_token_shown_once_stored_hashed_and_revocable(self, client, api_client_for):
        user = UserFactory()
        client.force_login(user)
        response = client.post(reverse("users:token_create"), {"name": "CRM sync"})
        raw = response.context["raw"]
        token = APIToken.objects.get(user=user)
        assert raw.startswith("kf_") and len(raw) >= 40
        assert raw not in token.token_hash and token.prefix == raw[:10]
        api = client.__class__(HTTP_AUTHORIZATION=f"Bearer {raw}")
        me = api.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["email"] == user.email
        token.refresh_from_db()
        assert token.last_used_at is not None
        client.post(reverse("users:token_revoke", args=[token.pk]))
        assert api.get("/api/v1/me").status_code == 401
        assert AuditEvent.objects.filter(verb="api_token_revoked").count() == 1

    def test_bad_token_gets_the_error_shape(self, client):
        response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer kf_nonsense")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert set(response.json()) == {"code", "message", "fields"}

    def test_token_of_deactivated_user_stops_working(self, api_client_for):
        user = UserFactory()
        api = api_client_for(user)
        assert api.get("/api/v1/me").status_code == 200
        user.is_active = False
        user.save()
        assert api.get("/api/v1/me").status_code == 401

    def test_create_api_token_command_prints_a_working_token(self, client):
        from io import StringIO

        from django.core.management import call_command

        user = UserFactory(email="bot@example.com")
        out = StringIO()
        call_command("create_api_token", "--email", "bot@example.com", "--name", "ETL", stdout=out)
        raw = out.getvalue().strip()
        response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert response.json()["id"] == user.pk


@pytest.mark.django_db
def test_session_api_requires_csrf(org):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(org.ae)
    assert c.get("/api/v1/me").status_code == 200


@pytest.mark.django_db
def test_pages_send_security_headers_with_a_script_nonce(client):
    response = client.get(reverse("users:login"))
    policy = response["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert len(nonce) >= 16
    assert f'nonce="{nonce}"' in response.content.decode()
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
