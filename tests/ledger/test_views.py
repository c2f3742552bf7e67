"""The card's Ledger tab and its Adjust balance form; the Main tab's link from the balance."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from tests.factories import make_customer
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.customers.models import Customer
from trunkline.ledger.models import EntryKind, LedgerEntry
from trunkline.ledger.services import Posting, ledger_post
from trunkline.ledger.views import PER_PAGE

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def cells(html: str) -> list[list[str]]:
    body = html.split('data-testid="ledger"', 1)[1].split("</table>", 1)[0]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)]


def test_the_tab_lists_the_entries_newest_first_with_the_form_for_operators(web, operator_user) -> None:
    customer = make_customer(name="Acme", currency="EUR", balance=Decimal("10"))
    with change_context(source="test"), transaction.atomic():
        ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.CHARGE, amount=Decimal("-0.012345"),
                                      cdr_id=77, reference="call abc/1")])
    html = web.get(f"/customers/{customer.pk}/ledger/").content.decode()
    assert [row[1:] for row in cells(html)] == [
        ["Call charge", "-0.012345", "9.987655", "call abc/1 · CDR 77", "—", "rating"],
        ["Opening balance", "+10.000000", "10.000000", "—", "—", "system"],
    ]
    assert 'data-testid="ledger-balance">9.987655 EUR<' in html
    assert 'data-testid="adjust-form"' in html


def test_a_viewer_sees_the_entries_but_no_form_and_cannot_post(viewer_user) -> None:
    customer = make_customer(balance=Decimal("3"))
    viewer = client_for(viewer_user)
    html = viewer.get(f"/customers/{customer.pk}/ledger/").content.decode()
    assert [row[1:3] for row in cells(html)] == [["Opening balance", "+3.00"]]
    assert "adjust-form" not in html
    response = viewer.post(f"/customers/{customer.pk}/ledger/adjust/", {"amount": "5", "reason": "x"})
    assert response.status_code == 403
    assert LedgerEntry.objects.count() == 1
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("3")


def test_the_form_credits_and_says_so(web, operator_user) -> None:
    customer = make_customer(currency="GBP", balance=Decimal("-12.5"))
    response = web.post(f"/customers/{customer.pk}/ledger/adjust/", {"amount": "1,000.25", "reason": " Wire "},
                        follow=True)
    assert response.redirect_chain == [(f"/customers/{customer.pk}/ledger/", 302)]
    html = response.content.decode()
    assert "Credited 1,000.25 GBP: the balance is now 987.75 GBP." in html
    assert cells(html)[0][1:6] == ["Adjustment", "+1,000.25", "987.75", "—", "Wire"]
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("987.75")
    change = ObjectChange.objects.get(object_id=customer.pk, action="update")
    assert (change.user_name, change.source, change.prechange_data, change.postchange_data["balance"]) == (
        "operator", "web", {"balance": "-12.500000"}, "987.750000")


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"amount": "0", "reason": "x"}, "amount",
     "The amount cannot be 0: give a credit such as 25.50 or a debit such as -10."),
    ({"amount": "2.0000001", "reason": "x"}, "amount", "At most 6 decimal places."),
    ({"amount": "1E+3", "reason": "x"}, "amount",
     "Scientific notation such as 1E+3 is not accepted; write the number in full."),
    ({"amount": "five", "reason": "x"}, "amount", "Give a number such as 25.50 or -10."),
    ({"amount": "5", "reason": ""}, "reason", "This field is required."),
])
def test_bad_input_is_shown_on_its_field_and_writes_nothing(web, data, field, message) -> None:
    customer = make_customer(balance=Decimal("1"))
    response = web.post(f"/customers/{customer.pk}/ledger/adjust/", data)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Check the fields marked in red: the balance was not changed." in html
    errors = re.findall(r'<div class="field invalid">\s*<label for="id_(\w+)".*?'
                        r'<div class="errorlist-block">(.*?)</div>', html, re.S)
    assert errors == [(field, message)]
    assert LedgerEntry.objects.count() == 1
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("1")


def test_pages_go_back_by_id_and_return(web) -> None:
    customer = make_customer()
    with change_context(source="test"), transaction.atomic():
        ledger_post(postings=[Posting(customer_id=customer.pk, kind=EntryKind.CHARGE, amount=Decimal("-1"),
                                      cdr_id=n) for n in range(1, PER_PAGE * 2 + 6)])
    ids = list(LedgerEntry.objects.filter(customer=customer).order_by("-id").values_list("id", flat=True))
    url = f"/customers/{customer.pk}/ledger/"

    def page(query: str) -> tuple[list[str], list[str]]:
        html = web.get(url + query).content.decode()
        links = re.findall(r'<a class="btn" href="([^"]*)">', html.split('class="pager"', 1)[1]) if "pager" in html \
            else []
        return [row[4].split("CDR ")[1] for row in cells(html)], links

    first, links = page("")
    assert first == [str(n) for n in range(PER_PAGE * 2 + 5, PER_PAGE + 5, -1)]
    assert links == [f"?before={ids[PER_PAGE - 1]}"]
    second, links = page(links[0])
    assert second == [str(n) for n in range(PER_PAGE + 5, 5, -1)]
    assert links == ["?", f"?after={ids[PER_PAGE]}", f"?before={ids[2 * PER_PAGE - 1]}"]
    last, links = page(links[2])
    assert last == ["5", "4", "3", "2", "1"]
    assert links == ["?", f"?after={ids[2 * PER_PAGE]}"]
    assert page(links[1])[0] == second
    assert page(f"?after={ids[-1]}")[0] == [str(n) for n in range(PER_PAGE + 1, 1, -1)]
    assert page("?before=abc")[0] == first  # junk is the first page, never a 500


def test_the_main_tab_links_the_balance_to_the_ledger(web) -> None:
    customer = make_customer(balance=Decimal("5"))
    html = web.get(f"/customers/{customer.pk}/").content.decode()
    assert (f'<span class="value" data-testid="balance"><a href="/customers/{customer.pk}/ledger/" title="The ledger: '
            f'every movement of this balance" data-testid="balance-ledger">5.00 USD</a></span>' in html)
