"""The card-tab registry (core.cardtabs): each app registers its tabs, the card lists them per role, and the
customer's own records are edited and deleted only under their customer's URL (core.views.owned)."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import make_contact, make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core import cardtabs
from trunkline.core.models import User
from trunkline.customers.models import Contact, Customer


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tab_links(html: str) -> list[tuple[str, str]]:
    nav = html.split('<nav class="card-tabs" aria-label="Customer card">', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)


@pytest.fixture
def acme(db) -> Customer:
    return make_customer(name="Acme Telecom", currency="EUR", debit_limit=Decimal("2500"))


@pytest.fixture
def audit_for_writers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Audit Log tab as if its app had registered it for admins and operators only."""
    tab = dataclasses.replace(cardtabs.get("audit_log"), roles=frozenset({"admin", "operator"}))
    monkeypatch.setitem(cardtabs._registry, "audit_log", tab)


def test_every_role_sees_the_registered_tabs_in_card_order(acme: Customer, admin_user, operator_user,
                                                           viewer_user) -> None:
    expected = [(f"/customers/{acme.pk}/", "Main"), (f"/customers/{acme.pk}/auth/", "Auth"),
                (f"/customers/{acme.pk}/routing/", "Routing"), (f"/customers/{acme.pk}/stats/", "Stats"),
                (f"/customers/{acme.pk}/latest-calls/", "Latest Calls"), (f"/customers/{acme.pk}/dialogs/", "Dialogs"),
                (f"/customers/{acme.pk}/ledger/", "Ledger"), (f"/customers/{acme.pk}/cdrs/", "CDR"),
                (f"/customers/{acme.pk}/audit-log/", "Audit Log")]
    for user in (admin_user, operator_user, viewer_user):
        assert tab_links(client_for(user).get(f"/customers/{acme.pk}/").content.decode()) == expected
    assert [(tab.key, tab.url_name, tab.order) for tab in cardtabs.tabs_for(viewer_user)] == [
        ("main", "customers:customer", 10), ("auth", "sipauth:auth_tab", 20),
        ("routing", "customer_routing:routing_tab", 30), ("stats", "cdrs:stats_tab", 40),
        ("latest_calls", "customer_routing:latest_calls_tab", 50), ("dialogs", "cdrs:dialogs_tab", 60),
        ("ledger", "ledger:ledger_tab", 75), ("cdr", "cdrs:cdr_tab", 90),
        ("audit_log", "customers:customer_audit", 1000)]


def test_a_tab_registered_without_the_viewer_role_is_hidden_from_viewers_and_refused(
        acme: Customer, operator_user, viewer_user, audit_for_writers_only) -> None:
    viewer = client_for(viewer_user)
    labels = [label for _, label in tab_links(viewer.get(f"/customers/{acme.pk}/").content.decode())]
    assert labels == ["Main", "Auth", "Routing", "Stats", "Latest Calls", "Dialogs", "Ledger", "CDR"]
    refused = viewer.get(f"/customers/{acme.pk}/audit-log/")
    assert refused.status_code == 403

    operator = client_for(operator_user)
    labels = [label for _, label in tab_links(operator.get(f"/customers/{acme.pk}/").content.decode())]
    assert labels == ["Main", "Auth", "Routing", "Stats", "Latest Calls", "Dialogs", "Ledger", "CDR", "Audit Log"]
    assert operator.get(f"/customers/{acme.pk}/audit-log/").status_code == 200


def test_registering_a_key_twice_raises_and_keeps_the_first(db) -> None:
    with pytest.raises(cardtabs.DuplicateTab) as raised:
        cardtabs.register("auth", "Authentication", "sipauth:auth_tab", order=25)
    assert str(raised.value) == ("A card tab with the key 'auth' is already registered ('Auth', sipauth:auth_tab).")
    assert (cardtabs.get("auth").label, cardtabs.get("auth").order) == ("Auth", 20)


def test_registering_an_unknown_role_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cardtabs, "_registry", dict(cardtabs._registry))
    with pytest.raises(ValueError) as raised:
        cardtabs.register("invoices", "Invoices", "customers:customer", order=110, roles={"viewer", "auditor"})
    assert str(raised.value) == "Card tab 'invoices': unknown roles ['auditor']; use ['admin', 'operator', 'viewer']."
    assert "invoices" not in cardtabs._registry


def test_another_customers_contact_is_not_found_under_this_customer(web: Client, acme: Customer,
                                                                     setup_context) -> None:
    other = make_customer(name="Other Telecom")
    theirs = make_contact(other, name="Zed Other", email="zed@other.example")
    before = ObjectChange.objects.count()

    for method in ("get", "post"):
        for action in ("edit", "delete"):
            url = f"/customers/{acme.pk}/contacts/{theirs.pk}/{action}/"
            data = {"name": "Taken Over", "email": "zed@other.example", "contact_type": "general"}
            assert getattr(web, method)(url, data if method == "post" else {}).status_code == 404, (method, url)

    theirs.refresh_from_db()
    assert (theirs.customer_id, theirs.name) == (other.pk, "Zed Other")
    assert Contact.objects.count() == 1
    assert ObjectChange.objects.count() == before
    # Under its own customer it is found.
    assert web.get(f"/customers/{other.pk}/contacts/{theirs.pk}/edit/").status_code == 200


def test_the_delete_page_leads_back_to_the_card(web: Client, acme: Customer, setup_context) -> None:
    contact = make_contact(acme, name="Alice Archer", email="alice@acme.example")

    html = web.get(f"/customers/{acme.pk}/contacts/{contact.pk}/delete/").content.decode()

    assert ('<nav class="crumbs"><a href="/customers/">Customers</a> › '
            f'<a href="/customers/{acme.pk}/">Acme Telecom</a></nav>') in html
    assert f'<a class="btn" href="/customers/{acme.pk}/">Cancel</a>' in html
