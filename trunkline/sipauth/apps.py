from django.apps import AppConfig


class SipAuthConfig(AppConfig):
    name = "trunkline.sipauth"
    label = "sipauth"
    verbose_name = "SIP authentication"
