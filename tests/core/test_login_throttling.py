"""Login throttling (django-axes): wrong passwords for one username from one address lock that pair out for the
cool-off period, with a message on the login page; API tokens and other addresses are not affected. Behind the
TLS proxy the address is the one the proxy forwards, for throttling and the audit log alike."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.test import Client

from tests.conftest import PASSWORD
from tests.core.test_settings import settings_in_subprocess
from trunkline.audit.models import ObjectChange
from trunkline.core.models import User

LOCKED = ("Too many failed logins for this username from your address: logging in is blocked for 15 minutes. "
          "An admin can lift it sooner with the command trunkline axes_reset_username.")


def log_in(client: Client, password: str, ip: str = "198.51.100.7") -> tuple[int, str]:
    response = client.post("/login/", {"username": "operator", "password": password}, REMOTE_ADDR=ip)
    return response.status_code, response.content.decode()


def test_25_wrong_passwords_then_the_right_one_is_refused(operator_user: User, api_for) -> None:
    client = Client()
    for _ in range(9):
        status, html = log_in(client, "wrong password")
        assert status == 200
        assert "Please enter a correct username and password." in html
    for _ in range(16):
        status, html = log_in(client, "wrong password")
        assert status == 429
        assert LOCKED in html
    status, html = log_in(client, PASSWORD)
    assert status == 429
    assert LOCKED in html
    assert 'value="operator"' in html  # the form keeps the username
    assert "_auth_user_id" not in client.session
    assert client.get("/customers/").status_code == 302  # still signed out

    # The lock is on this username from this address: the operator elsewhere, and their API token, still work.
    assert log_in(Client(), PASSWORD, ip="203.0.113.9")[0] == 302
    assert api_for(operator_user).get("/api/v1/customers/").status_code == 200


def test_the_lock_lifts_after_the_cool_off(operator_user: User) -> None:
    client = Client()
    for _ in range(10):
        log_in(client, "wrong password")
    assert log_in(client, PASSWORD)[0] == 429
    attempt = AccessAttempt.objects.get(username="operator")
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=attempt.attempt_time - timedelta(minutes=16))
    status, _ = log_in(client, PASSWORD)
    assert status == 302
    assert client.session["_auth_user_id"] == str(operator_user.pk)


def test_a_success_below_the_limit_starts_the_count_again(operator_user: User) -> None:
    client = Client()
    for _ in range(9):
        log_in(client, "wrong password")
    assert log_in(client, PASSWORD)[0] == 302
    assert not AccessAttempt.objects.filter(username="operator").exists()
    client = Client()
    for _ in range(9):
        assert log_in(client, "wrong password")[0] == 200
    assert log_in(client, PASSWORD)[0] == 302


def test_the_limit_and_cool_off_come_from_the_environment(tmp_path) -> None:
    values = settings_in_subprocess({"TRUNKLINE_VAR_DIR": str(tmp_path), "TRUNKLINE_LOGIN_FAILURE_LIMIT": "3",
                                     "TRUNKLINE_LOGIN_COOLOFF_MINUTES": "90"},
                                    "[settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds()]")
    assert values == [3, 5400.0]


def test_behind_the_proxy_the_lock_is_per_forwarded_address(operator_user: User, settings, setup_context) -> None:
    settings.TRUNKLINE_BEHIND_PROXY = True
    proxy = "10.0.0.2"

    def through_proxy(password: str, forwarded: str) -> int:
        return Client().post("/login/", {"username": "operator", "password": password}, REMOTE_ADDR=proxy,
                             HTTP_X_FORWARDED_FOR=forwarded).status_code

    # The client may send its own X-Forwarded-For; the proxy appends the address it saw, which is the one used.
    for number in range(10):
        through_proxy("wrong password", f"192.0.2.{number}, 198.51.100.7")
    assert through_proxy(PASSWORD, "198.51.100.7") == 429
    assert through_proxy(PASSWORD, "198.51.100.8") == 302
    assert AccessAttempt.objects.get().ip_address == "198.51.100.7"


def test_the_audit_log_records_the_forwarded_address_only_behind_the_proxy(api, settings) -> None:
    def create(name: str, forwarded: str) -> str:
        response = api.post("/api/v1/customers/", {"name": name, "currency": "USD"}, format="json",
                            REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 201
        return ObjectChange.objects.get(object_repr=name).ip

    assert create("Direct Client", "198.51.100.7") == "10.0.0.2"  # no proxy configured: the header means nothing
    settings.TRUNKLINE_BEHIND_PROXY = True
    assert create("Proxied Client", "192.0.2.1, 198.51.100.7") == "198.51.100.7"
    assert create("Garbled Header", "not-an-address") == "10.0.0.2"
