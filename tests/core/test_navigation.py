"""The main menu lights up the section a page belongs to, including a customer card's tabs drawn by other apps."""

import re

import pytest
from django.test import Client

from tests.factories import make_customer


@pytest.mark.parametrize(("path", "active"), [
    ("/customers/", "Customers"),
    ("/customers/{pk}/", "Customers"),
    ("/customers/{pk}/auth/", "Customers"),
    ("/customers/{pk}/routing/", "Customers"),
    ("/customers/{pk}/latest-calls/", "Customers"),
    ("/customers/{pk}/dialogs/", "Customers"),
    ("/dialogs/", "Dialogs"),
    ("/routing/providers/", "Providers"),
    ("/routing/rate-cards/", "Rate cards"),
    ("/routing/simulate/", "Simulate"),
    ("/audit-log/", "Audit log"),
    ("/setup/settings/", "Settings"),
    ("/operators/", "Operators"),
])
def test_one_menu_entry_is_active(admin_user, path: str, active: str) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.get(path.format(pk=make_customer().pk))
    assert response.status_code == 200
    menu = response.content.decode().split('<nav class="mainnav">', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'class="active">([^<]+)</a>', menu) == [active]
