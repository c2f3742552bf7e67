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
        # Stats (rollup charts) on the card after Routing, and on the Provider page beside its form.
        from trunkline.core import providertabs

        cardtabs.register("stats", "Stats", "cdrs:stats_tab", order=40)
        providertabs.register("stats", "Stats", "cdrs:provider_stats", order=10)
        # The CDR tab (after Payments and DID on the mission page's order).
        cardtabs.register("cdr", "CDR", "cdrs:cdr_tab", order=90)
        livecalls.register_channels_source(selectors.channels_in_use)
        livecalls.register_tab_panel("latest_calls", "calls", latest_calls_panel)
        # The Main tab's Summary and the board's 24 h ASR/ACD and last call, from the rollups.
        from trunkline.cdrs import stats
        from trunkline.cdrs.summary_views import summary_panel

        livecalls.register_tab_panel("main", "summary", summary_panel)
        livecalls.register_traffic_source(stats.board_live)
