"""Reads of customers for the control panel: what the card's Main and Audit Log tabs show, whom a message reaches,
a message's deliveries. Views read through here; writes are in services."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from trunkline.audit import selectors as audit_selectors
from trunkline.audit.models import ObjectChange
from trunkline.core import livecalls
from trunkline.core.models import SystemSettings
from trunkline.customers.choices import MessageChannel
from trunkline.customers.models import Contact, Customer, Message, MessageDelivery, NumberBlock


def channels_in_use(customer: Customer) -> int:
    """Calls the customer has up right now, as the call records count them (cdrs registers the count in
    core.livecalls: it sits above customers, which may not import it)."""
    return livecalls.channels_in_use([customer.pk])[customer.pk]


def contacts(customer: Customer) -> QuerySet[Contact]:
    return customer.contacts.all()


def number_blocks(customer: Customer) -> QuerySet[NumberBlock]:
    return customer.number_blocks.all()


def number_range_set() -> bool:
    """Whether Setup > Settings has an internal number range to assign blocks from."""
    settings = SystemSettings.load()
    return bool(settings.number_range_start and settings.number_block_size)


def recent_deliveries(customer: Customer, limit: int) -> QuerySet[MessageDelivery]:
    return customer.deliveries.select_related("message", "contact").order_by("-id")[:limit]


def customer_changes(customer: Customer) -> QuerySet[ObjectChange]:
    """The Audit Log tab: changes to the customer and to what belongs to it. Setup > Settings changes stay on the
    global log: they belong to no customer, and only admins read their values."""
    return audit_selectors.changes_about(customer)


def customers_to_message(ids: Iterable[int]) -> list[Customer]:
    """The customers ticked on the board, by name, each with its number of contacts."""
    return list(Customer.objects.filter(pk__in=ids).annotate(contact_count=Count("contacts")).order_by("name"))


def message_reach(customers: Iterable[Customer]) -> dict[str, int]:
    """What each channel reaches, as message_send() counts it: every contact email, every contact mobile, once."""
    contacts = Contact.objects.filter(customer__in=customers)
    return {MessageChannel.EMAIL: contacts.values("email").distinct().count(),
            MessageChannel.SMS: contacts.exclude(mobile="").values("mobile").distinct().count()}


def message_deliveries(message: Message) -> QuerySet[MessageDelivery]:
    return message.deliveries.select_related("customer", "contact").order_by("id")


def delivery_counts(deliveries: QuerySet[MessageDelivery]) -> dict[str, int]:
    """How many deliveries are in each status (statuses with none are left out)."""
    return dict(deliveries.values_list("status").annotate(n=Count("id")).order_by())
