"""What a rate import would change in the active revision (services.ratecards.rate_diff), on the import preview,
and Roll back, which asks first and shows the same difference."""

from __future__ import annotations

import re
from decimal import Decimal

from django.test import Client
from django.urls import reverse

from tests.routing.helpers import HEADER, load_rates, make_card
from trunkline.routing.models import RateCard, RateRevision
from trunkline.routing.ratefile import COLUMNS, RateValues
from trunkline.routing.services.ratecards import rate_diff


def row(prefix: str, rate: str = "0.01", name: str = "", pulse: int = 1, status: str = "active") -> RateValues:
    return RateValues(prefix, name, Decimal(rate), Decimal(0), 1, pulse, 0, status)


def test_rate_diff_counts_added_changed_removed_and_unchanged_prefixes() -> None:
    active = [row("1", name="USA"), row("44", "0.010"), row("4420", name="London"), row("447", "0.05")]
    deck = [row("49", "0.02"), row("44", "0.0100"), row("4420", name="London City"), row("1", name="USA", pulse=60),
            row("33", "0.03")]

    diff = rate_diff(active, deck)

    assert (diff.added, diff.changed, diff.removed, diff.unchanged) == (2, 2, 1, 1)
    assert [r.prefix for r in diff.added_sample] == ["33", "49"]
    assert [(before.prefix, after.prefix) for before, after in diff.changed_sample] == [("1", "1"), ("4420", "4420")]
    assert [r.prefix for r in diff.removed_sample] == ["447"]
    assert [fields for _, _, fields in diff.changes] == [[("pulse", 1, 60)], [("name", "London", "London City")]]


def test_rate_diff_samples_the_first_of_each_kind_in_prefix_order() -> None:
    active = [row(f"3{n:02d}") for n in range(30)]
    deck = [row(f"4{n:02d}") for n in reversed(range(25))]

    diff = rate_diff(active, deck, sample=10)

    assert (diff.added, diff.changed, diff.removed, diff.unchanged) == (25, 0, 30, 0)
    assert [r.prefix for r in diff.added_sample] == [f"4{n:02d}" for n in range(10)]
    assert [r.prefix for r in diff.removed_sample] == [f"3{n:02d}" for n in range(10)]


def test_rate_diff_streams_a_deck_already_in_prefix_order() -> None:
    """Roll back compares two stored revisions: the deck streams like the active rows and is never sorted (which
    would hold every row of a 600,000-row revision in memory at once)."""
    pulled: list[str] = []

    def deck():
        for prefix in ("1", "33", "44"):
            pulled.append(prefix)
            yield row(prefix)

    def active():
        seen.append(len(pulled))
        yield row("1")
        seen.append(len(pulled))
        yield row("44", "0.02")

    seen: list[int] = []
    diff = rate_diff(active(), deck(), deck_in_order=True)

    assert (diff.added, diff.changed, diff.removed, diff.unchanged) == (1, 1, 0, 1)
    assert seen == [0, 1]  # one row of the deck read at a time, in step with the active rows


def test_rate_diff_against_no_active_revision_is_all_added() -> None:
    diff = rate_diff([], [row("44"), row("1")])
    assert (diff.added, diff.changed, diff.removed, diff.unchanged) == (2, 0, 0, 0)


def _preview(web: Client, card: RateCard, lines: str) -> str:
    response = web.post(reverse("routing:ratecard_import", args=[card.pk]),
                        {"csv": HEADER + lines, "start_row": "2", "columns": ",".join(COLUMNS), "_preview": "1"})
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str, testid: str) -> str:
    """The text of the element marked `testid`."""
    match = re.search(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, testid
    return " ".join(re.sub(r"<[^>]+>", " ", match[2]).split())


def test_import_preview_shows_the_difference_and_warns_before_removing(web: Client, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.010000,0,1,1,0,active\n447,UK Mobile,0.050000,0,1,1,0,active\n"
                     "33,France,0.020000,0,1,1,0,active\n")

    html = _preview(web, card, "44,UK,0.012,0,1,1,0,active\n33,France,0.02,0,1,1,0,active\n"
                               "49,Germany,0.015,0,1,1,0,active\n")

    assert "Compared with the active revision 1" in html
    assert [_text(html, f"diff-{kind}") for kind in ("added", "changed", "removed")] == [
        "1 added", "1 changed", "1 removed"]
    assert _text(html, "removal-warning") == (
        "1 prefix of the active revision is not in the new one: once it is active, calls to that destination are "
        "rated by a shorter prefix of the card if it has one, or find no rate and are refused.")
    assert '<td class="mono">49</td><td>Germany</td><td class="num">0.015000</td>' in html
    assert '<div class="nowrap">rate: 0.010000 → 0.012000</div>' in html
    assert '<td class="mono">447</td><td>UK Mobile</td><td class="num">0.050000</td>' in html
    assert RateRevision.objects.filter(card=card).count() == 1  # a preview writes nothing


def test_import_preview_without_removals_has_no_warning(web: Client, setup_context: None) -> None:
    card = make_card()
    html = _preview(web, card, "44,UK,0.012,0,1,1,0,active\n")
    assert "No revision is active: every row is new" in html
    assert _text(html, "diff-added") == "1 added"
    assert "removal-warning" not in html


def test_roll_back_asks_first_and_shows_what_comes_back(web: Client, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.010000,0,1,1,0,active\n447,UK Mobile,0.050000,0,1,1,0,active\n")
    load_rates(card, "44,UK,0.011000,0,1,1,0,active\n")
    confirm = reverse("routing:ratecard_rollback", args=[card.pk])

    page = web.get(reverse("routing:ratecard", args=[card.pk])).content.decode()
    assert f'<a class="btn small" href="{confirm}"' in page
    assert f'action="{confirm}"' not in page  # no bare POST button on the card any more

    html = web.get(confirm).content.decode()
    assert "Roll back to revision 1</button>" in html
    assert [_text(html, f"diff-{kind}") for kind in ("added", "changed", "removed")] == [
        "1 added", "1 changed", "0 removed"]
    card.refresh_from_db()
    assert card.active_revision.number == 2  # asking changed nothing

    web.post(confirm)
    card.refresh_from_db()
    assert card.active_revision.number == 1


def test_roll_back_does_only_what_was_confirmed(web: Client, setup_context: None) -> None:
    """The confirm page posts the revision it showed: a stale page (the card rolled back meanwhile) or a forged
    number changes nothing, where it used to roll back one step further than the operator saw."""
    card = make_card()
    for rate in ("0.010000", "0.011000", "0.012000"):
        load_rates(card, f"44,UK,{rate},0,1,1,0,active\n")
    confirm = reverse("routing:ratecard_rollback", args=[card.pk])
    assert '<input type="hidden" name="revision" value="2">' in web.get(confirm).content.decode()

    for forged in ("1", "3", "x", "²"):
        web.post(confirm, {"revision": forged})
        card.refresh_from_db()
        assert card.active_revision.number == 3, forged

    web.post(confirm, {"revision": "2"})
    card.refresh_from_db()
    assert card.active_revision.number == 2
    stale = web.post(confirm, {"revision": "2"}, follow=True).content.decode()  # the same page, sent twice
    card.refresh_from_db()
    assert card.active_revision.number == 2
    assert "The card has changed since you confirmed: a roll-back now makes revision 1 active, not 2." in stale


def test_roll_back_is_disabled_with_nothing_to_roll_back_to(web: Client, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.010000,0,1,1,0,active\n")
    confirm = reverse("routing:ratecard_rollback", args=[card.pk])

    page = web.get(reverse("routing:ratecard", args=[card.pk])).content.decode()
    assert ('<button type="button" class="btn small" disabled title="No earlier revision went live: there is '
            'nothing to roll back to">Roll back</button>') in page
    assert f'href="{confirm}"' not in page
    html = web.get(confirm).content.decode()
    assert _text(html, "nothing-to-roll-back") == (
        "Revision 1 is the first that went live: there is nothing to roll back to.")
    assert "<button type=\"submit\"" not in html


def test_an_import_that_removes_prefixes_waits_for_the_count_to_be_confirmed(web: Client,
                                                                              setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.010000,0,1,1,0,active\n447,UK Mobile,0.050000,0,1,1,0,active\n")
    url = reverse("routing:ratecard_import", args=[card.pk])
    data = {"csv": HEADER + "44,UK,0.012,0,1,1,0,active\n", "start_row": "2", "columns": ",".join(COLUMNS),
            "_import": "1"}

    held = web.post(url, data).content.decode()  # Import pressed without a preview
    assert _text(held, "import-held") == ("Nothing was imported: this deck removes prefixes from the active "
                                          "revision. Check them below, then press Import &amp; activate again to "
                                          "confirm.")
    assert '<input type="hidden" name="removals_confirmed" value="1">' in held
    assert "Import &amp; activate, removing 1 prefix</button>" in held
    assert "Ready to import 1 row. Nothing is written yet" in held
    assert "import-held" in web.post(url, {**data, "removals_confirmed": "2"}).content.decode()
    assert RateRevision.objects.filter(card=card).count() == 1

    response = web.post(url, {**data, "removals_confirmed": "1"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.active_revision.number, card.active_revision.row_count) == (2, 1)


def test_an_import_that_removes_nothing_needs_no_confirmation(web: Client, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.010000,0,1,1,0,active\n")
    response = web.post(reverse("routing:ratecard_import", args=[card.pk]),
                        {"csv": HEADER + "44,UK,0.012,0,1,1,0,active\n33,France,0.02,0,1,1,0,active\n",
                         "start_row": "2", "columns": ",".join(COLUMNS), "_import": "1"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert card.active_revision.number == 2


def test_the_api_dry_run_counts_the_difference(api, setup_context: None) -> None:
    card = make_card()
    load_rates(card, "44,UK,0.010000,0,1,1,0,active\n447,UK Mobile,0.050000,0,1,1,0,active\n")
    url = reverse("api:ratecard-import-rates", args=[card.pk])
    text = HEADER + "44,UK,0.012,0,1,1,0,active\n33,France,0.02,0,1,1,0,active\n"

    preview = api.generic("POST", f"{url}?dry_run=true", text.encode(), content_type="text/csv").json()
    assert preview["difference"] == {"added": 1, "changed": 1, "removed": 1, "unchanged": 0}
    imported = api.generic("POST", url, text.encode(), content_type="text/csv").json()
    assert imported["difference"] is None and imported["revision"]["number"] == 2
    schema = api.get("/api/v1/schema/", {"format": "json"}).json()["components"]["schemas"]
    assert set(schema["RateDiff"]["properties"]) == {"added", "changed", "removed", "unchanged"}
