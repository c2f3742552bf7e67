"""Operators are managed by admins only; roles decide what each may do."""

from django.test import Client

from tests.conftest import PASSWORD
from trunkline.audit.models import ObjectChange
from trunkline.core.models import User


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_only_admins_manage_operators(operator_user, viewer_user) -> None:
    for user in (operator_user, viewer_user):
        client = signed_in(user)
        assert client.get("/operators/").status_code == 403
        assert client.post("/operators/add/", {"username": "eve", "role": "admin", "password": PASSWORD,
                                               "is_active": "on"}).status_code == 403
    assert not User.objects.filter(username="eve").exists()


def test_admin_adds_an_operator_who_can_log_in(admin_user) -> None:
    client = signed_in(admin_user)
    assert "Operators" in client.get("/customers/").content.decode()
    response = client.post("/operators/add/", {"username": "noc1", "role": "operator", "password": "Tr0mbone-Valley",
                                               "email": "noc1@example.net", "is_active": "on"})
    assert response.status_code == 302
    user = User.objects.get(username="noc1")
    assert user.role == "operator" and user.can_write and not user.is_admin
    assert user.password.startswith("argon2$")
    change = ObjectChange.objects.get(object_id=user.pk, object_type__model="user", action="create")
    assert change.user_name == "admin"
    assert change.postchange_data["password"] == "********"
    login = Client().post("/login/", {"username": "noc1", "password": "Tr0mbone-Valley"})
    assert login.status_code == 302 and login["Location"] == "/"


def test_weak_password_is_refused(admin_user) -> None:
    response = signed_in(admin_user).post("/operators/add/", {"username": "weak", "role": "viewer",
                                                              "password": "12345678", "is_active": "on"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "This password is too short. It must contain at least 10 characters." in body
    assert not User.objects.filter(username="weak").exists()


def test_edit_keeps_the_password_when_blank(admin_user, viewer_user) -> None:
    old_hash = viewer_user.password
    response = signed_in(admin_user).post(f"/operators/{viewer_user.pk}/edit/", {
        "username": "viewer", "role": "operator", "password": "", "is_active": "on"})
    assert response.status_code == 302
    viewer_user.refresh_from_db()
    assert viewer_user.role == "operator"
    assert viewer_user.password == old_hash
    change = ObjectChange.objects.get(object_id=viewer_user.pk, action="update")
    assert change.prechange_data["role"] == "viewer" and change.postchange_data["role"] == "operator"


def test_admin_cannot_delete_themselves(admin_user) -> None:
    response = signed_in(admin_user).post(f"/operators/{admin_user.pk}/delete/")
    assert response.status_code == 302
    assert User.objects.filter(pk=admin_user.pk).exists()


def test_login_rejects_a_wrong_password(admin_user) -> None:
    response = Client().post("/login/", {"username": "admin", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
