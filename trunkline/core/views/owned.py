"""Add, edit and delete a record that belongs to a customer (a contact, an IP-auth entry, a SIP user, an ingress
route, a CLI rule) from the customer's card: one view pair for every such record.

The URL names the owner (`<owner>/contacts/<pk>/edit/`): the record is looked up under it, so another customer's
record answers 404, and every page (crumbs, Cancel, the redirect after a save or a delete) leads back to the card
tab that lists the record. Writes go through the generic views: the row is locked, the form is validated, and the
save runs in the request's change context, so the audit log records it.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from trunkline.core import cardtabs
from trunkline.core.views import generic


class OwnedObjectMixin:
    queryset: models.QuerySet
    owner_model: type[models.Model]
    owner_field = "customer"
    tab: str  # the card tab (its registry key) that lists these records
    owner_pk: int  # from the URL

    def get_owner(self) -> models.Model:
        return get_object_or_404(self.owner_model, pk=self.owner_pk)

    def owned(self, pk: int) -> models.Model:
        return get_object_or_404(self.queryset, pk=pk, **{f"{self.owner_field}_id": self.owner_pk})

    def tab_url(self) -> str:
        return cardtabs.get(self.tab).url(self.owner_pk)

    def get_crumbs(self, obj: Any) -> list[tuple[str, str]]:
        owner_meta = self.owner_model._meta
        return [(str(owner_meta.verbose_name_plural).capitalize(), reverse(f"{owner_meta.app_label}:"
                                                                           f"{owner_meta.model_name}_list")),
                (str(getattr(obj, self.owner_field)), self.tab_url())]

    def get_return_url(self, obj: Any) -> str:
        return self.tab_url()

    def get_success_url(self, obj: Any) -> str:
        return self.tab_url()


class OwnedObjectEditView(OwnedObjectMixin, generic.ObjectEditView):
    """Add (no pk) or edit a customer's record; the owner is fixed by the URL, so the form shows it disabled."""

    def get_object(self, pk: int | None) -> models.Model:
        if pk is None:
            return self.queryset.model(**{self.owner_field: self.get_owner()})
        obj = self.owned(pk)
        obj.snapshot()
        return obj

    def get(self, request: HttpRequest, owner: int, pk: int | None = None) -> HttpResponse:  # type: ignore[override]
        self.owner_pk = owner
        return super().get(request, pk)

    def post(self, request: HttpRequest, owner: int, pk: int | None = None) -> HttpResponse:  # type: ignore[override]
        self.owner_pk = owner
        return super().post(request, pk)


class OwnedObjectDeleteView(OwnedObjectMixin, generic.ObjectDeleteView):
    def get_object(self, pk: int) -> models.Model:
        return self.owned(pk)

    def get(self, request: HttpRequest, owner: int, pk: int) -> HttpResponse:  # type: ignore[override]
        self.owner_pk = owner
        return super().get(request, pk)

    def post(self, request: HttpRequest, owner: int, pk: int) -> HttpResponse:  # type: ignore[override]
        self.owner_pk = owner
        return super().post(request, pk)
