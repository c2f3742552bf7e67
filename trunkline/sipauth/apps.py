from django.apps import AppConfig


class SipAuthConfig(AppConfig):
    name = "trunkline.sipauth"
    label = "sipauth"
    verbose_name = "SIP authentication"

    def ready(self) -> None:
        from trunkline.core import cardtabs

        cardtabs.register("auth", "Auth", "sipauth:auth_tab", order=20)
