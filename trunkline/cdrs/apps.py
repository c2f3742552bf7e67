from django.apps import AppConfig


class CdrsConfig(AppConfig):
    name = "trunkline.cdrs"
    label = "cdrs"
    verbose_name = "Call records"

    def ready(self) -> None:
        # The control panel's Dialogs tab (after Latest Calls), and what customers and routing show of the calls
        # through core.livecalls (they sit below cdrs): channels in use, the real calls on Latest Calls.
        # services.loading registers the spool load with the worker's loop (core.jobs.periodic_task), services.recalc
        # the Recalc CDR job's handler.
        from trunkline.cdrs import selectors
        from trunkline.cdrs.services import loading, recalc  # noqa: F401
        from trunkline.cdrs.views import latest_calls_panel
        from trunkline.core import cardtabs, livecalls

        cardtabs.register("dialogs", "Dialogs", "cdrs:dialogs_tab", order=60)
        livecalls.register_channels_source(selectors.channels_in_use)
        livecalls.register_tab_panel("latest_calls", "calls", latest_calls_panel)
