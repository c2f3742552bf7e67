"""{% provider_tabs provider active %}: the Provider page's tab strip (its form, then what core.providertabs holds)."""

from typing import Any

from django import template
from django.urls import reverse

from trunkline.core import providertabs

register = template.Library()


@register.inclusion_tag("core/includes/provider_tabs.html")
def provider_tabs(provider: Any, active: str) -> dict[str, Any]:
    form = {"label": "Settings", "url": reverse("routing:provider_edit", args=[provider.pk]),
            "active": active == "edit"}
    return {"tabs": [form, *providertabs.tabs(provider.pk, active)]}
