"""The customer card's Auth tab: IP authentication, SIP users, their parameter rewrites and the Testing box."""

from typing import Any

from django.test import Client
from django.urls import reverse

from tests.factories import make_customer
from tests.routing.helpers import make_card
from tests.sipauth.factories import SIP_PASSWORD, make_ip_auth, make_rewrite, make_route, make_sip_user
from trunkline.audit.models import ObjectChange
from trunkline.core import cardtabs
from trunkline.sipauth.digest import digest_ha1
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser

IP_FORM = {"ip": "203.0.113.10", "direction": "sends", "channels": "10", "cps": "2", "codecs": "PCMA, G729",
           "protocol": "udp", "port": "5060", "strip_digits": "0", "bandwidth": "0", "password": "",
           "rewrites": "destination: 00 => +\ncli: ^0(\\d+)$ => 44$1\n"}
SIP_FORM = {"username": "acme100", "password": "Swift-Otter-51", "channels": "5", "cps": "1", "nat_ping": "udp",
            "ip_whitelist": "192.0.2.0/24", "rewrites": ""}


def _auth_url(customer_id: int) -> str:
    return reverse("sipauth:auth_tab", args=[customer_id])


def test_auth_tab_follows_main(viewer_user) -> None:
    assert [tab.label for tab in cardtabs.tabs_for(viewer_user)][:2] == ["Main", "Auth"]


def test_auth_tab_lists_entries_and_rules(web: Client, setup_context: None) -> None:
    customer = make_customer(name="Acme")
    entry = make_ip_auth(customer, ip="203.0.113.7", tech_prefix="99")
    make_rewrite(entry, match="00", replace="+")
    make_sip_user(customer, username="acme-desk")
    make_ip_auth(make_customer(name="Other"), ip="198.51.100.200")
    body = web.get(_auth_url(customer.pk)).content.decode()
    assert 'aria-current="page">Auth</a>' in body
    assert "203.0.113.7" in body and "acme-desk" in body and "<code>00</code> → <code>+</code>" in body
    assert "198.51.100.200" not in body
    assert reverse("sipauth:ipauth_edit", args=[customer.pk, entry.pk]) in body


def test_add_ip_auth_with_rewrites(web: Client, setup_context: None) -> None:
    customer = make_customer()
    response = web.post(reverse("sipauth:ipauth_add", args=[customer.pk]), {**IP_FORM, "password": "s3cret"})
    assert response.status_code == 302
    assert response["Location"] == _auth_url(customer.pk)
    entry = IpAuth.objects.get(customer=customer)
    assert entry.codecs == ["PCMA", "G729"] and entry.password == "s3cret"
    assert [(r.type, r.match, r.replace, r.order) for r in entry.parameter_rewrites.all()] == [
        ("destination", "00", "+", 10), ("cli", r"^0(\d+)$", "44$1", 20)]
    assert ObjectChange.objects.filter(object_type__model="parameterrewrite", action="create",
                                       source="web").count() == 2
    # Write-only: the edit form never shows the password, and a blank one keeps it.
    form = web.get(reverse("sipauth:ipauth_edit", args=[customer.pk, entry.pk])).content.decode()
    assert "s3cret" not in form and "A password is set." in form
    web.post(reverse("sipauth:ipauth_edit", args=[customer.pk, entry.pk]), {**IP_FORM, "channels": "12"})
    entry.refresh_from_db()
    assert entry.password == "s3cret" and entry.channels == 12
    assert ObjectChange.objects.filter(object_type__model="parameterrewrite").count() == 2  # rules unchanged


def test_bad_rewrite_names_the_line_and_writes_nothing(web: Client, setup_context: None) -> None:
    customer = make_customer()
    response = web.post(reverse("sipauth:ipauth_add", args=[customer.pk]),
                        {**IP_FORM, "rewrites": "destination: 00 => +\ncli: ^(0 => 44"})
    assert response.status_code == 200
    assert "Line 2:" in response.content.decode()
    assert not IpAuth.objects.exists() and not ParameterRewrite.objects.exists()


def test_same_ip_warning_after_save(web: Client, setup_context: None) -> None:
    # Told apart by the tech prefixes of the customers' ingress routes, as the switch does.
    card = make_card()
    first, customer, third = make_customer(name="First Co"), make_customer(), make_customer()
    for owner, prefix in ((first, "11#"), (customer, "22#"), (third, "11#")):
        make_route(owner, card, prefix)
    make_ip_auth(first, ip="203.0.113.10")
    response = web.post(reverse("sipauth:ipauth_add", args=[customer.pk]), IP_FORM, follow=True)
    assert "203.0.113.10 is shared with customer First Co" in response.content.decode()
    refused = web.post(reverse("sipauth:ipauth_add", args=[third.pk]), IP_FORM)
    assert "could not be told apart: both customers have an enabled ingress route with tech prefix 11#" in (
        refused.content.decode())
    assert IpAuth.objects.filter(customer=third).count() == 0


def test_add_sip_user_keeps_only_the_digest(web: Client, setup_context: None) -> None:
    customer = make_customer(channels=8)
    response = web.post(reverse("sipauth:sipuser_add", args=[customer.pk]), SIP_FORM)
    assert response["Location"] == _auth_url(customer.pk)
    user = SipUser.objects.get(customer=customer)
    assert user.ha1 == digest_ha1("acme100", "Swift-Otter-51")
    form = web.get(reverse("sipauth:sipuser_edit", args=[customer.pk, user.pk])).content.decode()
    assert "Swift-Otter-51" not in form
    over = web.post(reverse("sipauth:sipuser_add", args=[customer.pk]),
                    {**SIP_FORM, "username": "acme101", "channels": "4"})
    assert "No channel capacity available for your account" in over.content.decode()
    assert SipUser.objects.count() == 1


def test_delete_sip_user(web: Client, setup_context: None) -> None:
    user = make_sip_user()
    response = web.post(reverse("sipauth:sipuser_delete", args=[user.customer_id, user.pk]))
    assert response["Location"] == _auth_url(user.customer_id)
    assert not SipUser.objects.exists()
    assert ObjectChange.objects.filter(object_type__model="sipuser", action="delete", source="web").exists()


def _test(client: Client, name: str, pk: int, **query: Any) -> str:
    return client.get(reverse(f"sipauth:{name}_test", args=[pk]), query).content.decode()


def test_testing_box_shows_each_step(viewer_user, setup_context: None) -> None:
    entry = make_ip_auth()
    make_rewrite(entry, type="destination", match="00", replace="+", order=1)
    make_rewrite(entry, type="cli", match=r"^0(\d+)$", replace="44$1", order=2)
    make_rewrite(entry, type="destination", match="999", replace="", order=3)
    client = Client()
    client.force_login(viewer_user)  # the box writes nothing: every role may use it
    body = _test(client, "ipauth", entry.pk, destination="0044201", cli="02071234")
    assert 'data-testid="result-destination">+44201<' in body
    assert 'data-testid="result-cli">442071234<' in body
    steps = body.split('data-testid="rewrite-steps"')[1]
    assert steps.count("<tr>") == 4  # header and one row per rule
    assert '<td class="mono">0044201</td><td class="mono">+44201</td>' in steps
    assert '<td class="mono">02071234</td><td class="mono">442071234</td>' in steps
    assert "No, unchanged" in steps


def test_testing_box_for_a_sip_user_without_rules(web: Client, setup_context: None) -> None:
    user = make_sip_user(password=SIP_PASSWORD)
    body = _test(web, "sipuser", user.pk, destination="123", cli="")
    assert 'data-testid="result-destination">123<' in body
    assert "No rules: the numbers pass unchanged." in body


def test_viewer_sees_no_write_controls_and_cannot_write(viewer_user, setup_context: None) -> None:
    customer = make_customer()
    entry = make_ip_auth(customer)
    user = make_sip_user(customer)
    client = Client()
    client.force_login(viewer_user)
    body = client.get(_auth_url(customer.pk)).content.decode()
    assert "Add IP authentication" not in body and "Add SIP user" not in body
    assert reverse("sipauth:ipauth_edit", args=[customer.pk, entry.pk]) not in body
    assert reverse("sipauth:sipuser_delete", args=[customer.pk, user.pk]) not in body
    assert "Testing" in body
    before = ObjectChange.objects.count()
    add = reverse("sipauth:ipauth_add", args=[customer.pk])
    assert client.post(add, IP_FORM).status_code == 403
    assert client.post(reverse("sipauth:ipauth_edit", args=[customer.pk, entry.pk]), IP_FORM).status_code == 403
    assert client.post(reverse("sipauth:ipauth_delete", args=[customer.pk, entry.pk])).status_code == 403
    assert client.post(reverse("sipauth:sipuser_add", args=[customer.pk]), SIP_FORM).status_code == 403
    assert client.post(reverse("sipauth:sipuser_delete", args=[customer.pk, user.pk])).status_code == 403
    assert ObjectChange.objects.count() == before
    assert IpAuth.objects.count() == 1 and SipUser.objects.count() == 1


def test_another_customers_entries_are_not_found_under_this_customer(web: Client, setup_context: None) -> None:
    acme, other = make_customer(name="Acme"), make_customer(name="Other")
    entry, user = make_ip_auth(other, ip="198.51.100.7"), make_sip_user(other, username="other-desk")
    before = ObjectChange.objects.count()
    for name, obj, form in (("ipauth", entry, IP_FORM), ("sipuser", user, SIP_FORM)):
        for action, data in (("edit", form), ("delete", {})):
            url = reverse(f"sipauth:{name}_{action}", args=[acme.pk, obj.pk])
            assert web.get(url).status_code == 404, url
            assert web.post(url, data).status_code == 404, url
    entry.refresh_from_db()
    user.refresh_from_db()
    assert (entry.customer_id, entry.ip, user.customer_id) == (other.pk, "198.51.100.7", other.pk)
    assert ObjectChange.objects.count() == before
