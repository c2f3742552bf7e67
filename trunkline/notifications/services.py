"""Sending the test messages of Setup > Settings."""

from trunkline.notifications.config import sms_config, smtp_config
from trunkline.notifications.transport import send_email, send_sms

TEST_SUBJECT = "Trunkline test email"
TEST_BODY = "This is a test message from Trunkline. If you can read it, the {channel} settings work."


def settings_send_test_email(*, to: str) -> str:
    return send_email(smtp_config(), to=to, subject=TEST_SUBJECT, body=TEST_BODY.format(channel="email"))


def settings_send_test_sms(*, to: str) -> str:
    return send_sms(sms_config(), to=to, body=TEST_BODY.format(channel="SMS"))
