"""The card's Ledger tab and its Adjust balance form (under /customers/ like every tab)."""

from django.urls import path

from trunkline.ledger import views

app_name = "ledger"
urlpatterns = [
    path("customers/<int:pk>/ledger/", views.LedgerTabView.as_view(), name="ledger_tab"),
    path("customers/<int:pk>/ledger/adjust/", views.AdjustBalanceView.as_view(), name="adjust_balance"),
]
