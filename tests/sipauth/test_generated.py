"""The generated API test cases, applied to the Auth-tab models."""

from typing import Any

import pytest

from tests.cases.api import APIViewTestCases
from tests.factories import make_customer
from tests.sipauth.factories import SIP_PASSWORD, make_ip_auth, make_rewrite, make_sip_user
from trunkline.customers.models import Customer
from trunkline.sipauth.models import IpAuth, ParameterRewrite, SipUser

WRITE_ONLY = {"password"}


class _WriteOnlyAware:
    @staticmethod
    def assert_fields(obj: dict[str, Any], expected: dict[str, Any]) -> None:
        assert not WRITE_ONLY & set(obj), "a write-only field came back"
        for name, value in expected.items():
            if name not in WRITE_ONLY:
                assert obj[name] == value, f"{name}: {obj[name]!r} != {value!r}"


@pytest.fixture
def customer(db) -> Customer:
    return make_customer(name="Acme Telecom")


def _three_ip_auths() -> list[IpAuth]:
    customer = make_customer()
    return [make_ip_auth(customer, ip="192.0.2.1"), make_ip_auth(customer, ip="192.0.2.0/28", direction="receives"),
            make_ip_auth(customer, ip="2001:db8::1", protocol="tls", port=5061)]


class TestIpAuthAPI(_WriteOnlyAware, APIViewTestCases.APIViewTestCase):
    model = IpAuth
    create_objects = staticmethod(_three_ip_auths)
    create_data = [
        {"customer": 1, "ip": "203.0.113.0/24", "direction": "sends", "channels": 30, "cps": 5,
         "codecs": ["PCMA", "G729"], "tech_prefix": "123#", "password": "Reg1ster-Secret"},
        {"customer": 1, "ip": "203.0.113.200", "direction": "receives", "protocol": "tcp", "port": 5080,
         "dial_pattern": "^(?<cc>44)[0-9]+$", "force_nat": True, "cli_authentication": True},
    ]
    bulk_update_data = {"channels": 90, "cps": 3, "manufacturer": "Asterisk"}
    invalid_update_data = {"port": 70000}

    @pytest.fixture(autouse=True)
    def _customer(self, customer: Customer) -> None:
        self.create_data = [{**data, "customer": customer.pk} for data in type(self).create_data]


def _three_sip_users() -> list[SipUser]:
    customer = make_customer()
    return [make_sip_user(customer, username=name) for name in ("alice", "bob", "carol")]


class TestSipUserAPI(_WriteOnlyAware, APIViewTestCases.APIViewTestCase):
    model = SipUser
    create_objects = staticmethod(_three_sip_users)
    create_data = [
        {"customer": 1, "username": "dave", "password": SIP_PASSWORD, "channels": 10, "cps": 2,
         "ip_whitelist": ["192.0.2.0/24"], "nat_ping": "udp"},
        {"customer": 1, "username": "erin", "password": SIP_PASSWORD, "voicemail_enabled": True,
         "voicemail_email": "erin@example.test", "nat_ping": "sip_timeout"},
    ]
    bulk_update_data = {"channels": 4, "nat_ping": "udp", "voicemail_enabled": True}
    invalid_update_data = {"nat_ping": "sometimes"}

    @pytest.fixture(autouse=True)
    def _customer(self, customer: Customer) -> None:
        self.create_data = [{**data, "customer": customer.pk} for data in type(self).create_data]


def _three_rewrites() -> list[ParameterRewrite]:
    entry = make_ip_auth()
    user = make_sip_user()
    return [make_rewrite(entry, match="0", replace="44", order=1),
            make_rewrite(entry, type="cli", match=r"^\+([0-9]+)$", replace="$1", order=2),
            make_rewrite(user, match="00", replace="", order=1)]


class TestParameterRewriteAPI(APIViewTestCases.APIViewTestCase):
    model = ParameterRewrite
    create_objects = staticmethod(_three_rewrites)
    create_data = [
        {"ip_auth": 1, "type": "destination", "match": "0", "replace": "44", "order": 1},
        {"ip_auth": 1, "type": "cli", "match": r"^0([1-9]+)$", "replace": r"44\1", "order": 2},
    ]
    bulk_update_data = {"order": 7, "replace": "33"}
    invalid_update_data = {"match": "(12"}

    @pytest.fixture(autouse=True)
    def _owner(self, customer: Customer) -> None:
        entry = make_ip_auth(customer)
        self.create_data = [{**data, "ip_auth": entry.pk} for data in type(self).create_data]
