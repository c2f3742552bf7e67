"""Send Email & SMS through the API: /api/v1/messages/ queues one delivery per recipient, the worker sends them to
a real SMTP server and a real HTTP SMS provider, and /api/v1/message-deliveries/ is the log. A restart or a crash
never sends the same message to the same recipient twice."""

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.utils import timezone

from tests.cases.api import APIViewTestCases
from tests.factories import make_contact, make_customer
from tests.servers import (
    EMAIL_FROM,
    SMS_ACCOUNT_SID,
    SMS_AUTH_TOKEN,
    SMS_FROM,
    SMS_PATH,
    SMSProviderServer,
    SMTPServer,
    save_settings,
)
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.jobs import LEASE, enqueue
from trunkline.core.models import Job
from trunkline.customers import services
from trunkline.customers.choices import DeliveryStatus
from trunkline.customers.models import Customer, Message, MessageDelivery
from trunkline.customers.services import SEND_MESSAGE_JOB, message_send

MESSAGES = "/api/v1/messages/"
DELIVERIES = "/api/v1/message-deliveries/"
MESSAGE_FIELDS = ["id", "url", "channel", "subject", "body", "created_by", "job", "delivery_counts", "created",
                  "updated"]
DELIVERY_FIELDS = ["id", "message", "channel", "customer", "contact", "recipient", "subject", "body", "status",
                   "error", "provider_id", "created", "sent_at"]
SUBJECT = "News for {{ customer.name }}"
BODY = "Dear {{ contact.name }},\n\nThe {{ customer.name }} account has a new rate deck.\n"
SMS_BODY = "Hi {{ contact.name }}, {{ customer.name }}: maintenance tonight 02:00 UTC."
INTERRUPTED = ("Interrupted while sending (the worker stopped); not sent again, so the recipient never gets it "
               "twice.")
ROLE_REFUSED = "Your role does not allow this change."


class Crash(BaseException):
    """The worker process dying at this point: not an error the job runner catches and retries."""


@pytest.fixture
def customers(db) -> dict[str, Customer]:
    """Acme (Alice with email and mobile, Bob with email only), Bravo (Carol), and Other (Dave, never selected)."""
    acme, bravo, other = (make_customer(name="Acme Telecom"), make_customer(name="Bravo Voice"),
                          make_customer(name="Other Carrier"))
    make_contact(acme, name="Alice Archer", email="alice@acme.example", mobile="+447911123456")
    make_contact(acme, name="Bob Baker", email="bob@acme.example")
    make_contact(bravo, name="Carol Cole", email="carol@bravo.example", mobile="+14155552671")
    make_contact(other, name="Dave Dunn", email="dave@other.example", mobile="+447400123456")
    return {"acme": acme, "bravo": bravo, "other": other}


def send(api: Any, customers: list[Customer], channel: str = "email", subject: str = SUBJECT,
         body: str = BODY) -> dict[str, Any]:
    response = api.post(MESSAGES, {"customers": [c.pk for c in customers], "channel": channel, "subject": subject,
                                   "body": body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def run_worker() -> str:
    out = StringIO()
    call_command("worker", "--once", stdout=out)
    return out.getvalue().strip()


def deliveries(api: Any, **params: Any) -> list[dict[str, Any]]:
    response = api.get(DELIVERIES, params)
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def counts() -> tuple[int, int, int, int]:
    return (Message.objects.count(), MessageDelivery.objects.count(), Job.objects.count(),
            ObjectChange.objects.count())


def expire_lease(job_id: int) -> None:
    """Time passes: the dead worker's lease on the job runs out."""
    Job.objects.filter(pk=job_id).update(locked_until=timezone.now() - timedelta(seconds=1))


#
# Email
#


def test_email_to_two_customers_reaches_every_contact_once(api, operator_user, customers, smtp_settings,
                                                           smtp_server: SMTPServer) -> None:
    body = send(api, [customers["acme"], customers["bravo"]])

    message = Message.objects.get()
    assert list(body) == MESSAGE_FIELDS
    assert body["url"] == f"http://testserver{MESSAGES}{message.pk}/"
    assert (body["channel"], body["subject"], body["body"]) == ("email", SUBJECT, BODY)
    assert body["created_by"] == operator_user.username
    assert body["delivery_counts"] == {"total": 3, "queued": 3, "sending": 0, "sent": 0, "failed": 0}
    assert body["job"] == {"id": message.job_id, "status": "queued", "attempts": 0, "progress_done": 0,
                           "progress_total": 3, "last_error": "", "created": body["job"]["created"],
                           "finished": None}
    assert smtp_server.messages == []  # the job sends, not the request

    assert run_worker() == "Ran 1 job."

    received = sorted(smtp_server.messages, key=lambda mail: mail.recipients)
    assert [mail.recipients for mail in received] == [["alice@acme.example"], ["bob@acme.example"],
                                                      ["carol@bravo.example"]]
    assert {mail.sender for mail in received} == {EMAIL_FROM}
    assert [(mail.to, mail.subject, mail.body) for mail in received] == [
        ("alice@acme.example", "News for Acme Telecom",
         "Dear Alice Archer,\n\nThe Acme Telecom account has a new rate deck.\n"),
        ("bob@acme.example", "News for Acme Telecom",
         "Dear Bob Baker,\n\nThe Acme Telecom account has a new rate deck.\n"),
        ("carol@bravo.example", "News for Bravo Voice",
         "Dear Carol Cole,\n\nThe Bravo Voice account has a new rate deck.\n"),
    ]

    shown = api.get(f"{MESSAGES}{message.pk}/").json()
    assert shown["delivery_counts"] == {"total": 3, "queued": 0, "sending": 0, "sent": 3, "failed": 0}
    assert (shown["job"]["status"], shown["job"]["progress_done"], shown["job"]["attempts"]) == ("done", 3, 1)
    log = deliveries(api, message=message.pk)
    assert [list(row) for row in log] == [DELIVERY_FIELDS] * 3
    message_ids = {mail.recipients[0]: mail.message["Message-ID"] for mail in received}
    for row in log:
        assert (row["status"], row["error"], row["channel"]) == ("sent", "", "email")
        assert row["provider_id"] == message_ids[row["recipient"]]
        assert row["sent_at"] is not None
    assert {row["recipient"]: row["customer"] for row in log} == {
        "alice@acme.example": customers["acme"].pk, "bob@acme.example": customers["acme"].pk,
        "carol@bravo.example": customers["bravo"].pk}

    change = ObjectChange.objects.get(object_type=ContentType.objects.get_for_model(Message), action="create")
    assert (change.object_id, change.user_name, change.source) == (message.pk, operator_user.username, "api")


def test_smtp_refusal_is_in_the_delivery_log(api, customers, smtp_settings, smtp_server: SMTPServer) -> None:
    smtp_server.reject_next(1, "550 5.1.1 <alice@acme.example>: Recipient address rejected")
    message = send(api, [customers["acme"]])
    run_worker()
    log = {row["recipient"]: row for row in deliveries(api, message=message["id"])}
    assert log["alice@acme.example"]["status"] == "failed"
    assert log["alice@acme.example"]["error"] == (f"SMTP 127.0.0.1:{smtp_server.port}: 550 5.1.1 "
                                                  "<alice@acme.example>: Recipient address rejected")
    assert log["bob@acme.example"]["status"] == "sent"
    assert [mail.recipients for mail in smtp_server.messages] == [["bob@acme.example"]]


#
# SMS
#


def test_sms_goes_to_every_contact_mobile_as_twilio_takes_it(api, customers, sms_settings,
                                                            sms_server: SMSProviderServer) -> None:
    message = send(api, [customers["acme"], customers["bravo"]], channel="sms", subject="", body=SMS_BODY)
    assert message["delivery_counts"]["total"] == 2  # Bob has no mobile

    run_worker()

    assert len(sms_server.requests) == 2
    for request in sms_server.requests:
        assert request.method == "POST"
        assert request.path == SMS_PATH == f"/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json"
        assert request.auth == (SMS_ACCOUNT_SID, SMS_AUTH_TOKEN)
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.status == 201
    assert sorted((r.form for r in sms_server.requests), key=lambda form: form["To"]) == [
        {"To": "+14155552671", "From": SMS_FROM, "Body": "Hi Carol Cole, Bravo Voice: maintenance tonight 02:00 UTC."},
        {"To": "+447911123456", "From": SMS_FROM,
         "Body": "Hi Alice Archer, Acme Telecom: maintenance tonight 02:00 UTC."},
    ]
    sids = {request.form["To"]: request.response["sid"] for request in sms_server.requests}
    log = deliveries(api, message=message["id"])
    assert {(row["recipient"], row["status"], row["provider_id"], row["channel"]) for row in log} == {
        (to, "sent", sid, "sms") for to, sid in sids.items()}


def test_provider_failure_is_in_the_delivery_log_and_the_others_are_sent(api, customers, sms_settings,
                                                                        sms_server: SMSProviderServer) -> None:
    sms_server.fail_next(1)  # the first request: Alice's, deliveries go out in order
    message = send(api, [customers["acme"], customers["bravo"]], channel="sms", subject="", body=SMS_BODY)

    run_worker()

    assert [(r.form["To"], r.status) for r in sms_server.requests] == [("+447911123456", 400),
                                                                      ("+14155552671", 201)]
    failed = deliveries(api, message=message["id"], status="failed")
    assert [(row["recipient"], row["error"], row["provider_id"], row["sent_at"]) for row in failed] == [
        ("+447911123456", "SMS provider answered 400: The 'To' number +447911123456 is not a valid phone number.",
         "", None)]
    sent = deliveries(api, message=message["id"], status="sent")
    assert [row["recipient"] for row in sent] == ["+14155552671"]
    shown = api.get(f"{MESSAGES}{message['id']}/").json()
    assert shown["delivery_counts"] == {"total": 2, "queued": 0, "sending": 0, "sent": 1, "failed": 1}
    assert shown["job"]["status"] == "done"  # a refused recipient is logged, not retried (it would fail again)


def test_one_sms_per_number_even_when_two_contacts_share_it(api, sms_settings, sms_server) -> None:
    customer = make_customer()
    make_contact(customer, name="Desk A", mobile="+447911123456")
    make_contact(customer, name="Desk B", mobile="+44 7911 123456")
    message = send(api, [customer], channel="sms", subject="", body="Hello")
    assert message["delivery_counts"]["total"] == 1
    run_worker()
    assert [r.form["To"] for r in sms_server.requests] == ["+447911123456"]


#
# Never twice: restarts, duplicate jobs, crashes
#


def test_running_the_worker_again_sends_nothing_more(api, customers, smtp_settings,
                                                     smtp_server: SMTPServer) -> None:
    message = send(api, [customers["acme"], customers["bravo"]])
    assert run_worker() == "Ran 1 job."
    assert run_worker() == "Ran 0 jobs."
    # Even a second job for the same message (enqueued twice by mistake) finds nothing left to send.
    with change_context(source="test"):
        enqueue(SEND_MESSAGE_JOB, {"message": message["id"]})
    assert run_worker() == "Ran 1 job."
    assert sorted(mail.recipients[0] for mail in smtp_server.messages) == [
        "alice@acme.example", "bob@acme.example", "carol@bravo.example"]
    assert MessageDelivery.objects.filter(status=DeliveryStatus.SENT).count() == 3


def test_a_crashed_worker_s_job_is_resumed_after_its_lease_and_sends_only_the_rest(
        api, customers, smtp_settings, smtp_server: SMTPServer, monkeypatch) -> None:
    message = send(api, [customers["acme"], customers["bravo"]])
    real_set_progress = services.set_progress

    def die_after_the_first_delivery(job: Job, done: int, total: int | None = None) -> None:
        real_set_progress(job, done, total)
        raise Crash

    monkeypatch.setattr(services, "set_progress", die_after_the_first_delivery)
    with pytest.raises(Crash):
        run_worker()
    monkeypatch.undo()

    assert [mail.recipients for mail in smtp_server.messages] == [["alice@acme.example"]]
    job = Job.objects.get(pk=message["job"]["id"])
    assert (job.status, job.attempts, job.progress_done) == ("running", 1, 1)
    assert job.locked_until > timezone.now() + LEASE - timedelta(minutes=1)
    assert run_worker() == "Ran 0 jobs."  # its lease still holds: no second worker takes it yet

    expire_lease(job.pk)
    assert run_worker() == "Ran 1 job."

    assert sorted(mail.recipients[0] for mail in smtp_server.messages) == [
        "alice@acme.example", "bob@acme.example", "carol@bravo.example"]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress_done, job.progress_total) == ("done", 2, 3, 3)
    assert [row["status"] for row in deliveries(api, message=message["id"])] == ["sent"] * 3


def test_a_delivery_found_sending_is_marked_failed_not_sent_again(
        api, customers, smtp_settings, smtp_server: SMTPServer, monkeypatch) -> None:
    message = send(api, [customers["acme"], customers["bravo"]])
    real_send_email = services.send_email

    def die_after_handing_over(*args: Any, **kwargs: Any) -> str:
        real_send_email(*args, **kwargs)  # the server has the mail; the worker dies before recording it
        raise Crash

    monkeypatch.setattr(services, "send_email", die_after_handing_over)
    with pytest.raises(Crash):
        run_worker()
    monkeypatch.undo()
    first = MessageDelivery.objects.get(recipient="alice@acme.example")
    assert first.status == DeliveryStatus.SENDING

    expire_lease(message["job"]["id"])
    assert run_worker() == "Ran 1 job."

    assert sorted(mail.recipients[0] for mail in smtp_server.messages) == [
        "alice@acme.example", "bob@acme.example", "carol@bravo.example"]  # Alice's exactly once
    log = {row["recipient"]: row for row in deliveries(api, message=message["id"])}
    assert (log["alice@acme.example"]["status"], log["alice@acme.example"]["error"]) == ("failed", INTERRUPTED)
    assert log["bob@acme.example"]["status"] == log["carol@bravo.example"]["status"] == "sent"


def test_a_job_whose_channel_was_unset_meanwhile_fails_every_delivery_with_the_reason(
        api, customers, smtp_settings, smtp_server) -> None:
    message = send(api, [customers["acme"]])
    save_settings(smtp_host="")
    run_worker()
    log = deliveries(api, message=message["id"])
    assert {(row["status"], row["error"]) for row in log} == {
        ("failed", "Email is not set up: enter the SMTP server and the 'email from' address in Setup > Settings.")}
    assert smtp_server.messages == []


#
# Validation: nothing is written
#


@pytest.mark.parametrize(("data", "errors"), [
    ({"channel": "email", "subject": "", "body": "Hi"}, {"subject": ["An email needs a subject."]}),
    ({"channel": "email", "subject": "Hi", "body": "  "}, {"body": ["Write the message."]}),
    ({"channel": "email", "subject": "Hi", "body": "{{ customer.name|nosuchfilter }}"},
     {"body": ["Unknown placeholder {{ customer.name|nosuchfilter }}; use {{ customer.name }}, {{ contact.name }} "
               "or {{ company }}."]}),
    ({"channel": "fax", "subject": "Hi", "body": "Hi"}, {"channel": ['"fax" is not a valid choice.']}),
    ({"channel": "email", "subject": "Hi", "body": "Hi", "customers": []},
     {"customers": ["Select at least one customer."]}),
    ({"channel": "email", "subject": "Hi", "body": "Hi", "customers": [999999]},
     {"customers": ['Invalid pk "999999" - object does not exist.']}),
    ({"channel": "sms", "body": "x" * 1601},
     {"body": ["An SMS may be at most 1,600 characters long; this one has 1,601."]}),
    ({"channel": "email", "subject": "Hi", "body": "x" * 100_001},
     {"body": ["An email may be at most 100,000 characters long; this one has 100,001."]}),
    ({"channel": "sms", "body": "Hi"},
     {"non_field_errors": ["SMS is not set up: enter the SMS API URL, account SID, auth token and sender in Setup > "
                           "Settings."]}),
])
def test_invalid_messages_write_nothing(api, customers, smtp_settings, smtp_server, data, errors) -> None:
    before = counts()
    data = {"customers": [customers["acme"].pk], **data}
    response = api.post(MESSAGES, data, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert counts() == before


def test_a_body_at_the_limit_is_queued(api, customers, smtp_settings, sms_settings) -> None:
    sms = send(api, [customers["acme"]], channel="sms", subject="", body="x" * 1600)
    email = send(api, [customers["acme"]], body="x" * 100_000)
    assert [len(Message.objects.get(pk=message["id"]).body) for message in (sms, email)] == [1600, 100_000]


def test_customers_without_any_recipient_write_nothing(api, customers, smtp_settings, sms_settings) -> None:
    lonely = make_customer()
    make_contact(lonely, email="nomobile@lonely.example")
    nobody = make_customer()
    before = counts()
    response = api.post(MESSAGES, {"customers": [lonely.pk], "channel": "sms", "body": "Hi"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "customers": ["None of the selected customers has a contact with a mobile number."]}
    response = api.post(MESSAGES, {"customers": [nobody.pk], "channel": "email", "subject": "S",
                                   "body": "B"}, format="json")
    assert response.json()["errors"] == {
        "customers": ["None of the selected customers has a contact with an email address."]}
    assert counts() == before


def test_email_without_email_settings_writes_nothing(api, customers) -> None:
    before = counts()
    response = api.post(MESSAGES, {"customers": [customers["acme"].pk], "channel": "email", "subject": "S",
                                   "body": "B"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == ("Email is not set up: enter the SMTP server and the 'email from' address "
                                         "in Setup > Settings.")
    assert counts() == before


#
# The template sandbox: three placeholders as plain text, nothing else
#

ATTACK = "{% for d in customer.deliveries.all %}{{ d.message.created_by.auth_token.key }}{% endfor %}"
USE = "{{ customer.name }}, {{ contact.name }} or {{ company }}."
CONTROL_CHARACTERS = "Control characters (such as line breaks) are not allowed here."


@pytest.mark.parametrize(("data", "errors"), [
    ({"body": ATTACK}, {"body": [
        f"Template tags such as {{% for d in customer.deliveries.all %}} are not allowed; use only {USE}",
        f"Unknown placeholder {{{{ d.message.created_by.auth_token.key }}}}; use {USE}",
        f"Template tags such as {{% endfor %}} are not allowed; use only {USE}"]}),
    ({"body": "Your password: {{ contact.password }}"},
     {"body": [f"Unknown placeholder {{{{ contact.password }}}}; use {USE}"]}),
    ({"subject": "{{ contact.password }}", "body": "Hi {{ customer.ha1 }}"},
     {"subject": [f"Unknown placeholder {{{{ contact.password }}}}; use {USE}"],
      "body": [f"Unknown placeholder {{{{ customer.ha1 }}}}; use {USE}"]}),
    ({"body": "Dear {{ contact.name"},
     {"body": [f'Unbalanced braces at "{{{{ contact.name": write placeholders as {USE}']}),
    ({"subject": "Acme\r\nBcc: x@y"}, {"subject": [CONTROL_CHARACTERS]}),
    ({"subject": "News\tfor you"}, {"subject": [CONTROL_CHARACTERS]}),
])
def test_a_template_beyond_the_placeholders_is_refused_and_nothing_is_queued(
        api, operator_user, customers, smtp_settings, smtp_server: SMTPServer, data, errors) -> None:
    send(api, [customers["acme"]])  # an earlier message: deliveries the attack would walk through
    before = counts()
    response = api.post(MESSAGES, {"customers": [customers["acme"].pk], "channel": "email", "subject": "Hi",
                                   "body": "Hi", **data}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == errors
    first_field, [first_error, *_] = next(iter(errors.items()))
    assert response.json()["detail"] == f"{first_field}: {first_error}"
    assert counts() == before
    assert MessageDelivery.objects.filter(body__contains=operator_user.auth_token.key).count() == 0


def test_placeholders_arrive_filled_and_plain_text_is_not_escaped(api, smtp_settings, sms_settings,
                                                                  smtp_server: SMTPServer, sms_server) -> None:
    save_settings(company_name="Trunk & Co")
    customer = make_customer(name="AT&T <Wholesale>")
    make_contact(customer, name="Zoë O'Brien", email="zoe@att.example", mobile="+447911123456")
    send(api, [customer], subject="{{customer.name}} & {{ company }}",
         body="Dear {{ contact.name }},\n\n{{  customer.name  }} \"rates\" < 1 & {literal}\n")
    send(api, [customer], channel="sms", subject="", body="{{ customer.name }} & {{contact.name}}")

    assert run_worker() == "Ran 2 jobs."

    [mail] = smtp_server.messages
    assert (mail.subject, mail.body) == ("AT&T <Wholesale> & Trunk & Co",
                                         "Dear Zoë O'Brien,\n\nAT&T <Wholesale> \"rates\" < 1 & {literal}\n")
    assert mail.header_from == "Trunk & Co <noc@carrier.test>"
    assert "&amp;" not in mail.message.as_string()
    [request] = sms_server.requests
    assert request.form["Body"] == "AT&T <Wholesale> & Zoë O'Brien"
    assert sorted((row["subject"], row["body"]) for row in deliveries(api)) == [
        ("", "AT&T <Wholesale> & Zoë O'Brien"),
        ("AT&T <Wholesale> & Trunk & Co", "Dear Zoë O'Brien,\n\nAT&T <Wholesale> \"rates\" < 1 & {literal}\n")]


def test_a_customer_name_that_looks_like_a_placeholder_is_sent_as_written(api, smtp_settings,
                                                                          smtp_server: SMTPServer) -> None:
    customer = make_customer(name="{{ contact.name }} {% now 'Y' %}")
    make_contact(customer, name="Ann", email="ann@example.test")
    send(api, [customer], subject="For {{ customer.name }}", body="Hi {{ contact.name }}")
    run_worker()
    [mail] = smtp_server.messages
    assert (mail.subject, mail.body) == ("For {{ contact.name }} {% now 'Y' %}", "Hi Ann\n")


#
# A delivery that cannot be sent fails alone, with its reason
#


def test_a_delivery_whose_subject_cannot_be_written_fails_and_the_others_are_sent(
        api, customers, smtp_settings, smtp_server: SMTPServer) -> None:
    # A name stored before control characters were refused (QuerySet.update skips validation, as old data did).
    Customer.objects.filter(pk=customers["bravo"].pk).update(name="Bravo\r\nBcc: x@y")
    message = send(api, [customers["acme"], customers["bravo"]])

    assert run_worker() == "Ran 1 job."

    log = {row["recipient"]: (row["status"], row["error"]) for row in deliveries(api, message=message["id"])}
    assert log == {
        "alice@acme.example": ("sent", ""),
        "bob@acme.example": ("sent", ""),
        "carol@bravo.example": ("failed", "The email could not be written: Header values may not contain "
                                          "linefeed or carriage return characters")}
    assert sorted(mail.recipients[0] for mail in smtp_server.messages) == ["alice@acme.example", "bob@acme.example"]
    job = Job.objects.get(pk=message["job"]["id"])
    assert (job.status, job.attempts, job.progress_done) == ("done", 1, 3)


def test_an_unexpected_error_sending_one_delivery_fails_that_delivery_only(
        api, customers, smtp_settings, smtp_server: SMTPServer, monkeypatch) -> None:
    real_send_email = services.send_email

    def broken_for_bob(config: Any, *, to: str, subject: str, body: str) -> str:
        if to == "bob@acme.example":
            raise RuntimeError("a fault in the transport")  # a bug, not a refusal by the server
        return real_send_email(config, to=to, subject=subject, body=body)

    monkeypatch.setattr(services, "send_email", broken_for_bob)
    message = send(api, [customers["acme"], customers["bravo"]])

    assert run_worker() == "Ran 1 job."

    log = {row["recipient"]: (row["status"], row["error"]) for row in deliveries(api, message=message["id"])}
    assert log == {
        "alice@acme.example": ("sent", ""),
        "bob@acme.example": ("failed", "Could not be sent: a fault in the transport"),
        "carol@bravo.example": ("sent", "")}
    assert Job.objects.get(pk=message["job"]["id"]).status == "done"


#
# Filters, read-only log, roles
#


def test_filters(api, customers, smtp_settings, sms_settings) -> None:
    email = send(api, [customers["acme"], customers["bravo"]])
    sms = send(api, [customers["bravo"]], channel="sms", subject="", body="Hi")
    run_worker()

    def ids(url: str, **params: Any) -> list[int]:
        response = api.get(url, params)
        assert response.status_code == 200, response.json()
        return sorted(row["id"] for row in response.json()["results"])

    def recipients(**params: Any) -> list[str]:
        return sorted(row["recipient"] for row in deliveries(api, **params))

    assert ids(MESSAGES, customer=customers["acme"].pk) == [email["id"]]
    assert ids(MESSAGES, customer=customers["bravo"].pk) == sorted([email["id"], sms["id"]])
    assert ids(MESSAGES, customer=customers["other"].pk) == []
    assert ids(MESSAGES, channel="sms") == [sms["id"]]
    assert ids(MESSAGES, q="rate deck") == [email["id"]]
    # The customer filter must not multiply the counts.
    shown = api.get(MESSAGES, {"customer": customers["bravo"].pk}).json()["results"]
    assert {row["id"]: row["delivery_counts"]["total"] for row in shown} == {email["id"]: 3, sms["id"]: 1}

    assert recipients(customer=customers["acme"].pk) == ["alice@acme.example", "bob@acme.example"]
    assert recipients(message=sms["id"]) == ["+14155552671"]
    assert recipients(channel="sms") == ["+14155552671"]
    assert recipients(channel="email", customer=customers["bravo"].pk) == ["carol@bravo.example"]
    assert recipients(status="sent", recipient="acme") == ["alice@acme.example", "bob@acme.example"]
    assert recipients(status="failed") == []
    assert recipients(q="carol") == ["carol@bravo.example"]
    # Deliveries have no `updated` column, so no such filter: named in a 400 rather than silently ignored.
    assert set(api.get(DELIVERIES, {"updated__gte": "2020-01-01T00:00:00Z"}).json()["errors"]) == {"updated__gte"}


def test_roles(api, api_for, viewer_user, customers, smtp_settings, smtp_server) -> None:
    message = send(api, [customers["acme"]])
    delivery = MessageDelivery.objects.first()
    viewer = api_for(viewer_user)
    before = counts()
    data = {"customers": [customers["acme"].pk], "channel": "email", "subject": "S", "body": "B"}
    response = viewer.post(MESSAGES, data, format="json")
    assert (response.status_code, response.json()) == (403, {"detail": ROLE_REFUSED, "errors": {}})
    for client, status in ((viewer, 403), (api, 405)):
        assert client.patch(f"{MESSAGES}{message['id']}/", {"body": "X"}, format="json").status_code == status
        assert client.delete(f"{MESSAGES}{message['id']}/").status_code == status
        assert client.post(DELIVERIES, {}, format="json").status_code == status
        assert client.patch(f"{DELIVERIES}{delivery.pk}/", {"status": "sent"}, format="json").status_code == status
        assert client.delete(f"{DELIVERIES}{delivery.pk}/").status_code == status
    assert counts() == before
    assert viewer.get(f"{MESSAGES}{message['id']}/").status_code == 200
    assert len(deliveries(viewer, message=message["id"])) == 2


#
# The generated read cases
#


def _three_messages() -> list[Message]:
    save_settings(smtp_host="127.0.0.1", email_from=EMAIL_FROM)
    customer = make_customer()
    make_contact(customer)
    with change_context(source="test"):
        return [message_send(customers=[customer], channel="email", subject=f"S{n}", body="B") for n in range(3)]


def _three_deliveries() -> list[MessageDelivery]:
    save_settings(smtp_host="127.0.0.1", email_from=EMAIL_FROM)
    customer = make_customer()
    for _ in range(3):
        make_contact(customer)
    with change_context(source="test"):
        message = message_send(customers=[customer], channel="email", subject="S", body="B")
    return list(message.deliveries.all())


class TestMessageAPI(APIViewTestCases.ListObjectsTestCase):
    model = Message
    create_objects = staticmethod(_three_messages)


class TestMessageDeliveryAPI(APIViewTestCases.ListObjectsTestCase):
    model = MessageDelivery
    create_objects = staticmethod(_three_deliveries)
