"""The routing app publishes a new snapshot only for a committed change of a field the switch reads
(routing.publish.SOURCES): contact notes, message deliveries and balances publish nothing; a fed field, a
create or a delete of a source row queues exactly one publish job, however many changes a burst or an import
makes. The builder reads no field that is not declared, so no change the switch sees can go unpublished."""

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import make_contact, make_customer
from tests.routing.helpers import load_rates, make_card, simulate_world
from tests.sipauth.factories import make_ip_auth, make_rewrite, make_sip_user
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.models import Job
from trunkline.customers.choices import DeliveryStatus
from trunkline.customers.models import Contact, Customer, MessageDelivery
from trunkline.routing import publish
from trunkline.routing.models import CliRule, IngressRoute, Rate, RateCard
from trunkline.routing.publish import PUBLISH_SNAPSHOT, SOURCES
from trunkline.routing.services.ratecards import rate_card_save, rate_revision_activate
from trunkline.routing.snapshot import snapshot_build
from trunkline.sipauth.services import sip_user_save

pytestmark = pytest.mark.django_db


def publish_jobs() -> list[str]:
    return list(Job.objects.filter(kind=PUBLISH_SNAPSHOT).values_list("status", flat=True))


Committed = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Committed:
    """A block whose writes commit at its end (their on_commit callbacks run then), as a request's do."""

    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True), change_context(source="test"), \
                transaction.atomic():
            yield

    return block


def test_a_contacts_notes_publish_nothing(committed: Committed) -> None:
    contact = make_contact(make_customer())
    with committed():
        contact.public_notes = "Billing questions to this contact."
        contact.private_notes = "Prefers calls after 14:00 UTC."
        contact.phone = "+442071838750"
        contact.save()
    assert publish_jobs() == []
    # The change did happen and was logged: the audit path saw it and found no field the switch reads.
    change = ObjectChange.objects.get(object_type__model="contact", object_id=contact.pk, action="update")
    assert change.postchange_data["private_notes"] == "Prefers calls after 14:00 UTC."


def test_a_contact_verifying_publishes_once(committed: Committed) -> None:
    contact = Contact.objects.get(pk=make_contact(make_customer()).pk)
    with committed():
        contact.email_verified = True
        contact.save()
    assert publish_jobs() == ["queued"]


def test_a_message_and_its_deliveries_publish_nothing(api, smtp_settings, smtp_server,
                                                      django_capture_on_commit_callbacks) -> None:
    customer = make_customer(name="Acme Telecom")
    make_contact(customer, name="Alice Archer", email="alice@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/messages/", {"customers": [customer.pk], "channel": "email",
                                                  "subject": "Maintenance", "body": "Tonight at 02:00 UTC."},
                            format="json")
        assert response.status_code == 201, response.content
        call_command("worker", "--once")
    assert list(MessageDelivery.objects.values_list("recipient", "status")) == [
        ("alice@acme.example", DeliveryStatus.SENT)]
    assert publish_jobs() == []


def test_a_balance_change_publishes_nothing(committed: Committed) -> None:
    customer = Customer.objects.get(pk=make_customer().pk)
    with committed():
        customer.balance = Decimal("-12.500000")
        customer.save()
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("-12.5")
    assert publish_jobs() == []


def test_fields_the_switch_does_not_read_publish_nothing(committed: Committed) -> None:
    customer = Customer.objects.get(pk=make_customer().pk)
    entry = make_ip_auth(customer)
    with committed():
        customer.notes, customer.city, customer.tags = "Pays late.", "Leeds", ["wholesale"]
        customer.save()
        entry.manufacturer, entry.version, entry.force_nat = "Acme SBC", "4.2", True
        entry.save()
    assert publish_jobs() == []
    assert ObjectChange.objects.filter(action="update", object_id__in=(customer.pk, entry.pk)).count() == 2


def test_a_customers_channels_publish_once(api, django_capture_on_commit_callbacks) -> None:
    customer = make_customer()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.patch(f"/api/v1/customers/{customer.pk}/", {"channels": 40}, format="json")
    assert response.status_code == 200, response.content
    assert publish_jobs() == ["queued"]


def test_activating_a_rate_revision_publishes_once(committed: Committed) -> None:
    card = make_card(name="Retail")
    first = load_rates(card, "44,UK,0.0500,0,6,6,0,active\n")
    load_rates(card, "44,UK,0.0600,0,6,6,0,active\n")
    with committed():
        rate_revision_activate(revision=first)
    assert RateCard.objects.get(pk=card.pk).active_revision_id == first.pk
    assert publish_jobs() == ["queued"]


def test_changing_a_cards_egress_links_publishes_once(committed: Committed) -> None:
    provider_card = make_card(kind="provider", name="Carrier A")
    card = make_card(name="Retail")
    with committed():
        rate_card_save(card=RateCard.objects.get(pk=card.pk), egress_cards=[provider_card])
    assert publish_jobs() == ["queued"]


def test_a_sip_users_new_password_publishes_once(committed: Committed) -> None:
    user = make_sip_user()
    with committed():
        sip_user_save(user=user, password="Another-Secret-58")  # only the (masked) HA1 changes
    assert publish_jobs() == ["queued"]


def test_an_ip_auths_dial_pattern_publishes_once(committed: Committed) -> None:
    entry = make_ip_auth()
    with committed():
        entry.dial_pattern = r"^44\d+$"
        entry.save()
    assert publish_jobs() == ["queued"]


def test_deleting_a_source_row_publishes_once(committed: Committed) -> None:
    contact = make_contact(make_customer())  # not verified: its row still counts, as a create does
    with committed():
        contact.delete()
    assert publish_jobs() == ["queued"]


def test_a_burst_of_edits_and_a_bulk_import_publish_once(api, django_capture_on_commit_callbacks) -> None:
    contacts = [make_contact(make_customer()) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for number, contact in enumerate(contacts):
            response = api.patch(f"/api/v1/contacts/{contact.pk}/", {"private_notes": f"Note {number}"},
                                 format="json")
            assert response.status_code == 200, response.content
    assert (len(callbacks), publish_jobs()) == (0, [])

    lines = "".join(f"Carrier {number:03d},USD,active,{number}\n" for number in range(120))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("/api/v1/customers/import/", ("name,currency,status,channels\n" + lines).encode(),
                            content_type="text/csv")
        assert response.status_code == 200, response.content
        for contact in contacts:
            response = api.patch(f"/api/v1/customers/{contact.customer_id}/", {"cps": 5}, format="json")
            assert response.status_code == 200, response.content
    assert Customer.objects.filter(name__startswith="Carrier ").count() == 120
    assert publish_jobs() == ["queued"]


def test_a_declared_name_that_is_no_field_is_refused_at_start(monkeypatch) -> None:
    monkeypatch.setitem(SOURCES, Customer, SOURCES[Customer] | {"chanels"})
    with pytest.raises(ImproperlyConfigured, match=r"^routing\.publish\.SOURCES\[Customer\] names "
                                                   r"\['chanels'\]: not a field of the model"):
        publish.register()


# The rows of a card's active revision: they never change once written, and which revision is active is
# RateCard.active_revision, a declared field.
_READ_THROUGH_ACTIVE_REVISION = {Rate._meta.db_table}


def test_the_builder_reads_exactly_the_declared_fields() -> None:
    """The columns of source tables that the builder's queries name (selected, joined, filtered or sorted on)
    are exactly the declared fields: a change to any column the switch sees publishes it, and no other does."""
    world = simulate_world()
    make_contact(world.customer, email_verified=True)
    user = make_sip_user(world.customer)
    make_rewrite(user)
    make_rewrite(make_ip_auth(world.customer, ip="192.0.2.77"))
    with change_context(source="test"):
        CliRule.objects.create(customer=world.customer, cli="^44", direction="outbound")
        route = IngressRoute.objects.get(pk=world.route.pk)
        route.lock.set([world.cheap])
        route.exclude.set([world.dear])

    declared: dict[str, set[str]] = {}  # table -> the columns of the declared fields (a link table: its links)
    keys: dict[str, str] = {}  # table -> its primary key column, which a query may name without reading data
    for model, names in SOURCES.items():
        fields = [model._meta.get_field(name) for name in names]
        declared[model._meta.db_table] = {field.column for field in fields if not field.many_to_many}
        keys[model._meta.db_table] = model._meta.pk.column
        for field in fields:
            if field.many_to_many:
                through = field.remote_field.through._meta
                declared[through.db_table] = {column.column for column in through.concrete_fields
                                              if not column.primary_key}
                keys[through.db_table] = through.pk.column
    allowed = {table: columns | {keys[table]} for table, columns in declared.items()}
    with CaptureQueriesContext(connection) as queries:
        snapshot = snapshot_build()

    read: dict[str, set[str]] = {}
    for query in queries.captured_queries:
        for table, column in re.findall(r'"(\w+)"\."(\w+)"', query["sql"]):
            read.setdefault(table, set()).add(column)
    undeclared = {table: sorted(columns - allowed.get(table, set())) for table, columns in read.items()
                  if table not in _READ_THROUGH_ACTIVE_REVISION and columns - allowed.get(table, set())}
    assert undeclared == {}
    # And each declared field is read: a field the builder dropped would publish for nothing.
    unread = {table: sorted(columns - read.get(table, set())) for table, columns in declared.items()
              if columns - read.get(table, set())}
    assert unread == {}
    assert all((snapshot.customers, snapshot.ip_auths, snapshot.sip_users, snapshot.parameter_rewrites,
                snapshot.providers, snapshot.rate_cards, snapshot.ingress_routes, snapshot.cli_rules))
    assert "balance" not in SOURCES[Customer]
