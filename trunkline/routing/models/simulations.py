"""Simulate Call runs, kept as the customer's SIM calls."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from trunkline.customers.models import Customer


class SimulatedCall(models.Model):
    """A Simulate Call run, kept so it is listed on the customer's Latest Calls with a `SIM` call id. Not
    change-logged: a simulation changes nothing, it is a record of a question asked."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True,
                                 related_name="simulated_calls",
                                 help_text="The customer the decision identified, else the one whose card the "
                                           "simulation was run from; empty when neither.")
    inputs = models.JSONField(help_text="dst, cli, ip, user, pai as given.")
    result = models.JSONField(help_text="The decision as POST /api/v1/simulate/ returns it.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return self.call_id

    @property
    def call_id(self) -> str:
        # "SIM" sets simulations apart from real calls' ids on Latest Calls.
        return f"SIM{self.pk:010d}"

    @property
    def answer(self) -> dict[str, Any]:
        """The decision with its call id: what POST /api/v1/simulate/ answers and `trunkline simulate` prints."""
        return {"call_id": self.call_id, **self.result}
