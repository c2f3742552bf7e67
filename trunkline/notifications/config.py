"""The email and SMS configuration of Setup > Settings, as the transport takes it."""

from django.core.exceptions import ValidationError

from trunkline.core.models import SystemSettings
from trunkline.notifications.transport import SmsConfig, SmtpConfig


def smtp_config(settings: SystemSettings | None = None) -> SmtpConfig:
    settings = settings or SystemSettings.load()
    if not settings.smtp_host or not settings.email_from:
        raise ValidationError("Email is not set up: enter the SMTP server and the 'email from' address in "
                              "Setup > Settings.", code="email_not_configured")
    return SmtpConfig(host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                      username=settings.smtp_username, password=settings.smtp_password, sender=settings.email_from,
                      sender_name=settings.company_name)


def sms_config(settings: SystemSettings | None = None) -> SmsConfig:
    settings = settings or SystemSettings.load()
    if not (settings.sms_api_url and settings.sms_account_sid and settings.sms_auth_token and settings.sms_from):
        raise ValidationError("SMS is not set up: enter the SMS API URL, account SID, auth token and sender in "
                              "Setup > Settings.", code="sms_not_configured")
    return SmsConfig(api_url=settings.sms_api_url, account_sid=settings.sms_account_sid,
                     auth_token=settings.sms_auth_token, sender=settings.sms_from)
