"""Writes about customers that do more than save a form: contacts' passwords, number blocks, messages.

Each service runs in one transaction; callers run inside a change context (web, API, command, job).
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from trunkline.core.jobs import enqueue, job_handler, set_progress
from trunkline.core.locking import lock_rows
from trunkline.core.models import Job, SystemSettings
from trunkline.core.validators import CONTROL_CHARACTERS_MESSAGE, reject_control_characters
from trunkline.customers.choices import DeliveryStatus, MessageChannel
from trunkline.customers.models import Contact, Customer, Message, MessageDelivery, NumberBlock
from trunkline.notifications.config import sms_config, smtp_config
from trunkline.notifications.render import PLACEHOLDERS, check_template, render
from trunkline.notifications.transport import DeliveryError, SmsConfig, SmtpConfig, send_email, send_sms

logger = logging.getLogger(__name__)

SEND_MESSAGE_JOB = "customers.send_message"
# The longest body a message may have, as typed: an SMS as long as Twilio takes in one request (ten concatenated
# segments), an email far beyond any notice but short of filling the deliveries table with one click.
BODY_LIMITS = {MessageChannel.SMS: 1_600, MessageChannel.EMAIL: 100_000}
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_SUBJECT = "Your portal password"
PASSWORD_BODY = """Hello {name},

Your login for the {company} customer portal:

  Email:    {email}
  Password: {password}

Please change the password after you log in.
"""
NOTES_HOLD_PASSWORD = "Do not put passwords in notes: this note contains the password typed in this form."

#
# Contacts
#


def generate_password(length: int = 16) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def check_contact_password(contact: Contact, password: str) -> None:
    """Length and strength (Django's validators) and never inside the notes; errors name the field."""
    try:
        validate_password(password)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from error
    errors = {name: [NOTES_HOLD_PASSWORD] for name in ("public_notes", "private_notes")
              if password and password in getattr(contact, name)}
    if errors:
        raise ValidationError(errors)


def _email_password(contact: Contact, password: str) -> None:
    settings = SystemSettings.load()
    body = PASSWORD_BODY.format(name=contact.name, company=settings.company_name or "our", email=contact.email,
                                password=password)
    try:
        send_email(smtp_config(settings), to=contact.email, subject=PASSWORD_SUBJECT, body=body)
    except DeliveryError as error:
        raise ValidationError({"auto_generate_password": [f"The password email could not be sent, so nothing was "
                                                          f"saved: {error}"]}) from error


def contact_save(*, contact: Contact, password: str = "", auto_generate_password: bool = False) -> Contact:
    """Create or update a contact. A new contact needs a password: typed, or generated and emailed to them.
    If the email cannot be sent, nothing is written."""
    if auto_generate_password:
        password = generate_password()
    elif not contact.pk and not password:
        raise ValidationError({"password": ["Type a password, or tick Auto Generate Password to email one."]})
    contact.full_clean(exclude=["password"])
    if password:
        if not auto_generate_password:
            check_contact_password(contact, password)
        contact.set_password(password)
    with transaction.atomic():
        contact.save()
        if auto_generate_password:
            _email_password(contact, password)  # raising here rolls the save back
    return contact


def contact_reset_password(*, contact: Contact, password: str = "", auto_generate: bool = False) -> Contact:
    """The key icon: a generated password emailed to the contact, or one the operator types."""
    if not auto_generate and not password:
        raise ValidationError({"password": ["Type the new password, or choose auto-generate to email one."]})
    with transaction.atomic():
        # Behind the row lock, the stored state is the log's "before"; the save writes only the new password.
        lock_rows(Contact, [contact.pk])
        contact.refresh_from_db()
        contact.snapshot()
        return contact_save(contact=contact, password=password, auto_generate_password=auto_generate)


#
# Internal number blocks
#


def number_block_assign(*, customer: Customer) -> NumberBlock:
    """The next free block of the range in Setup > Settings (start 1000, size 1000: 1000-1999, then 2000-2999)."""
    with transaction.atomic():
        # The settings row is the lock: two assignments at once take turns, so they never pick the same block.
        settings = SystemSettings.objects.select_for_update().filter(pk=1).first()
        if settings is None or not settings.number_range_start or not settings.number_block_size:
            raise ValidationError("Set Internal Number Range Start and Block Size in Setup > Settings before "
                                  "assigning a number block.", code="number_range_not_set")
        base, size = settings.number_range_start, settings.number_block_size
        start = base
        # Candidates are base, base + size, base + 2*size, ...: take the first that overlaps no existing block
        # (blocks are sorted and never overlap, so one pass suffices; released blocks are reused).
        for taken_start, taken_end in NumberBlock.objects.order_by("start").values_list("start", "end"):
            if taken_end < start:
                continue
            if taken_start > start + size - 1:
                break
            start = base + -(-(taken_end + 1 - base) // size) * size  # the next candidate past this block
        block = NumberBlock(customer=customer, start=start, end=start + size - 1)
        block.full_clean()
        try:
            with transaction.atomic():
                block.save()
        except IntegrityError as error:
            raise ValidationError("Another assignment took this block at the same moment; try again.") from error
    return block


def number_block_release(*, block: NumberBlock) -> None:
    with transaction.atomic():
        block.delete()


#
# Send Email & SMS
#


def _recipients(customer: Customer, channel: str) -> Iterable[tuple[Contact, str]]:
    for contact in customer.contacts.all():
        address = contact.email if channel == MessageChannel.EMAIL else contact.mobile
        if address:
            yield contact, address


def message_send(*, customers: Iterable[Customer], channel: str, subject: str, body: str, user: Any = None) -> Message:
    """Queue an email (to every contact email) or SMS (to every contact mobile) of each customer.
    A background job sends them; each recipient gets the message once."""
    errors: dict[str, list[str]] = {}
    if channel not in MessageChannel.values:
        errors["channel"] = [f"Choose email or sms, not {channel!r}."]
    if channel == MessageChannel.EMAIL and not subject.strip():
        errors["subject"] = ["An email needs a subject."]
    try:
        reject_control_characters(subject)  # a subject is one header line; the body may have line breaks
    except ValidationError:
        errors.setdefault("subject", []).append(CONTROL_CHARACTERS_MESSAGE)
    if not body.strip():
        errors["body"] = ["Write the message."]
    limit = BODY_LIMITS.get(channel)
    if limit is not None and len(body) > limit:
        what = "An SMS" if channel == MessageChannel.SMS else "An email"
        errors["body"] = [f"{what} may be at most {limit:,} characters long; this one has {len(body):,}."]
    for name, text in (("subject", subject), ("body", body)):
        errors.setdefault(name, []).extend(check_template(text))
    errors = {name: messages for name, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)
    _channel_config(channel)  # refuse now, not at send time, when the channel is not set up

    customers = list(customers)
    if not customers:
        raise ValidationError({"customers": ["Select at least one customer."]})
    company = SystemSettings.load().company_name
    with transaction.atomic():
        message = Message(channel=channel, subject=subject, body=body, created_by=user)
        message.save()
        deliveries = []
        seen: set[str] = set()
        for customer in customers:
            for contact, address in _recipients(customer, channel):
                if address.lower() in seen:
                    continue  # one message per recipient, even when two contacts share a number
                seen.add(address.lower())
                # Strings only: the template never sees a model object.
                values = dict(zip(PLACEHOLDERS, (customer.name, contact.name, company), strict=True))
                deliveries.append(MessageDelivery(
                    message=message, customer=customer, contact=contact, recipient=address,
                    subject=render(subject, values) if channel == MessageChannel.EMAIL else "",
                    body=render(body, values)))
        if not deliveries:
            what = "an email address" if channel == MessageChannel.EMAIL else "a mobile number"
            raise ValidationError({"customers": [f"None of the selected customers has a contact with {what}."]})
        MessageDelivery.objects.bulk_create(deliveries)
        message.job = enqueue(SEND_MESSAGE_JOB, {"message": message.pk}, total=len(deliveries))
        message.save(update_fields=["job"])
    return message


@job_handler(SEND_MESSAGE_JOB)
def deliver_message(job: Job) -> None:
    """Send each queued delivery of a message. Safe to run again after a crash: a delivery is claimed before it
    is sent, and one found claimed but unfinished is marked failed rather than sent a second time."""
    message = Message.objects.get(pk=job.payload["message"])
    pending = message.deliveries.filter(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING])
    try:
        config = _channel_config(message.channel)
    except ValidationError as error:
        for delivery in pending:
            _finish(delivery, DeliveryStatus.FAILED, error=" ".join(error.messages))
        return
    done = message.deliveries.exclude(status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING]).count()
    for delivery in pending.order_by("id"):
        if delivery.status == DeliveryStatus.SENDING:
            _finish(delivery, DeliveryStatus.FAILED, error="Interrupted while sending (the worker stopped); not "
                                                           "sent again, so the recipient never gets it twice.")
        elif _claim(delivery):
            try:
                if message.channel == MessageChannel.EMAIL:
                    reference = send_email(config, to=delivery.recipient, subject=delivery.subject,
                                           body=delivery.body)
                else:
                    reference = send_sms(config, to=delivery.recipient, body=delivery.body)
            except DeliveryError as error:
                _finish(delivery, DeliveryStatus.FAILED, error=str(error))
            except Exception as error:
                # Anything else the transport raises about this one message (a header it cannot build, an
                # address it cannot encode) fails this delivery, not the job: otherwise the job is retried and
                # finds the delivery "Interrupted while sending", and the rest of the recipients wait.
                logger.exception("Delivery %s of message %s could not be sent", delivery.pk, message.pk)
                _finish(delivery, DeliveryStatus.FAILED, error=f"Could not be sent: {error}")
            else:
                _finish(delivery, DeliveryStatus.SENT, provider_id=reference)
        done += 1
        set_progress(job, done)


def _channel_config(channel: str) -> SmtpConfig | SmsConfig:
    return smtp_config() if channel == MessageChannel.EMAIL else sms_config()


def _claim(delivery: MessageDelivery) -> bool:
    """Mark one delivery as being sent; False if another worker got there first."""
    return MessageDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.QUEUED).update(
        status=DeliveryStatus.SENDING) == 1


def _finish(delivery: MessageDelivery, status: str, *, error: str = "", provider_id: str = "") -> None:
    MessageDelivery.objects.filter(pk=delivery.pk).update(
        status=status, error=error, provider_id=provider_id,
        sent_at=timezone.now() if status == DeliveryStatus.SENT else None)
