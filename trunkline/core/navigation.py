"""Which main-menu entry a page belongs to, from its URL path: one table rather than a condition per menu link."""

from django.http import HttpRequest

# (path prefix, menu entry), most specific first. A customer card's tabs live under /customers/ whichever app
# draws them (Auth, Routing, Latest Calls), so they all light up Customers.
SECTIONS = (
    ("/customers/", "customers"),
    ("/routing/providers/", "providers"),
    ("/routing/simulat", "simulate"),  # the Simulate page and the simulations' result pages
    ("/routing/", "rate_cards"),
    ("/dialogs/", "dialogs"),
    ("/audit-log/", "audit"),
    ("/setup/jobs/", "jobs"),
    ("/setup/", "settings"),
    ("/operators/", "operators"),
)


def navigation(request: HttpRequest) -> dict[str, str]:
    return {"nav_section": next((section for prefix, section in SECTIONS if request.path.startswith(prefix)), "")}
