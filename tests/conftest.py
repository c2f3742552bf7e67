"""Shared fixtures: operators of each role, signed-in web and API clients, and a change context for setup."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from trunkline.core.context import change_context
from trunkline.core.models import User

pytest_plugins = ["tests.servers"]

PASSWORD = "Correct-Horse-Battery-9"


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 still (hashes start with argon2$), with test-sized cost: the real cost is ~0.5 s per hash here."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1


@pytest.fixture(autouse=True)
def quick_password_hashing(settings) -> None:
    settings.PASSWORD_HASHERS = ["tests.conftest.QuickArgon2PasswordHasher"]


@pytest.fixture(autouse=True)
def own_var_dir(settings, tmp_path: Path) -> None:
    """Files the code writes under var/ (the routing snapshot a due publish job writes) go to the test's own
    directory, never into the checkout's var/."""
    settings.VAR_DIR = tmp_path


@pytest.fixture(autouse=True)
def fresh_rating_cache() -> Iterator[None]:
    """The rating context keeps card revisions' rows per process by revision id, which is right in production (a
    revision's rows never change) but not across tests: rolled-back or flushed tests hand out the same ids again."""
    from trunkline.cdrs.rating import VERSIONS

    VERSIONS.clear()
    yield
    VERSIONS.clear()


@pytest.fixture
def setup_context() -> Iterator[None]:
    """Writes made by a test's own setup are attributed to source 'test', like a command's would be."""
    with change_context(source="test"):
        yield


def _make_user(role: str) -> User:
    with change_context(source="test"):
        return User.objects.create_user(username=role, password=PASSWORD, role=role)


@pytest.fixture
def admin_user(db) -> User:
    return _make_user(User.Role.ADMIN)


@pytest.fixture
def operator_user(db) -> User:
    return _make_user(User.Role.OPERATOR)


@pytest.fixture
def viewer_user(db) -> User:
    return _make_user(User.Role.VIEWER)


@pytest.fixture
def web(operator_user) -> Client:
    """A control-panel client signed in as an operator."""
    client = Client()
    client.force_login(operator_user)
    return client


@pytest.fixture
def api_for(db) -> Callable[[User], APIClient]:
    def make(user: User) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def api(api_for, operator_user) -> APIClient:
    """An API client authenticated by token as an operator."""
    return api_for(operator_user)
