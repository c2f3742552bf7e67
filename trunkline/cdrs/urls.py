"""Dialogs (the global page and the card's tab, each with its rows for the refresh and its End Calls)."""

from django.urls import path

from trunkline.cdrs import cdr_views, recalc_views, stats_views, summary_views, views

app_name = "cdrs"
urlpatterns = [
    path("dialogs/", views.DialogsView.as_view(), name="dialogs"),
    path("dialogs/rows/", views.DialogsRowsView.as_view(), name="dialogs_rows"),
    path("dialogs/end/", views.DialogsEndView.as_view(), name="dialogs_end"),
    # The card's tab lives under /customers/ like every tab, whichever app draws it.
    path("customers/<int:pk>/dialogs/", views.DialogsTabView.as_view(), name="dialogs_tab"),
    path("customers/<int:pk>/dialogs/rows/", views.DialogsTabRowsView.as_view(), name="dialogs_tab_rows"),
    path("customers/<int:pk>/dialogs/end/", views.DialogsTabEndView.as_view(), name="dialogs_tab_end"),
    # The card's CDR tab: the grid, one CDR, the filtered set as CSV.
    path("customers/<int:pk>/cdrs/", cdr_views.CdrTabView.as_view(), name="cdr_tab"),
    path("customers/<int:pk>/cdrs/csv/", cdr_views.CdrCsvView.as_view(), name="cdr_csv"),
    path("customers/<int:pk>/cdrs/<int:cdr>/", cdr_views.CdrDetailView.as_view(), name="cdr_detail"),
    # Recalc CDR (the form on the CDR tab, a run's progress) and the CSV import of CDRs.
    path("customers/<int:pk>/cdrs/recalc/", recalc_views.RecalcFormView.as_view(), name="recalc"),
    path("customers/<int:pk>/cdrs/import/", recalc_views.CdrImportView.as_view(), name="cdr_import"),
    path("recalc-runs/<int:pk>/", recalc_views.RecalcRunView.as_view(), name="recalcrun"),
    # The Main tab's Summary as CSV (the panel itself is drawn into the customers app's tab).
    path("customers/<int:pk>/summary.csv", summary_views.SummaryCsvView.as_view(), name="summary_csv"),
    # Stats: the card's tab, a provider's tab (under /routing/providers/ beside its form), every carrier's ASR/ACD,
    # and the chart library from the installed plotly package.
    path("customers/<int:pk>/stats/", stats_views.StatsTabView.as_view(), name="stats_tab"),
    path("routing/providers/<int:pk>/stats/", stats_views.ProviderStatsView.as_view(), name="provider_stats"),
    path("routing/providers/stats/", stats_views.CarrierStatsView.as_view(), name="carrier_stats"),
    path("assets/plotly-<str:version>.min.js", stats_views.plotly_js, name="plotly_js"),
]
