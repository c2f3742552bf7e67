"""Revisions: one active per card, activate, roll back, and scheduled activation at date_live (fixed clock)."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.routing.helpers import load_rates, make_card
from trunkline.audit.models import ObjectChange
from trunkline.core.context import change_context
from trunkline.core.jobs import run_ready_jobs
from trunkline.core.models import Job
from trunkline.routing.models import RateCard, RateRevision
from trunkline.routing.services.ratecards import (
    ACTIVATE_DUE_JOB,
    rate_card_rollback,
    rate_revision_activate,
    rate_revisions_activate_due,
)

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DECK_A = "44,UK,0.010000,0.000000,1,1,0,active\n"
DECK_B = "44,UK,0.020000,0.000000,1,1,0,active\n"
DECK_C = "44,UK,0.030000,0.000000,1,1,0,active\n"


@pytest.fixture
def card(db) -> RateCard:
    return make_card(name="Retail")


def active_number(card: RateCard) -> int | None:
    card.refresh_from_db()
    return card.active_revision.number if card.active_revision else None


def test_each_import_makes_a_revision_and_one_is_active(card) -> None:
    for deck in (DECK_A, DECK_B, DECK_C):
        load_rates(card, deck)
    assert list(card.revisions.order_by("number").values_list("number", flat=True)) == [1, 2, 3]
    assert active_number(card) == 3
    assert [r.is_active for r in card.revisions.select_related("card").order_by("number")] == [False, False, True]


def test_activate_and_roll_back_through_the_api(api, card) -> None:
    first = load_rates(card, DECK_A)
    load_rates(card, DECK_B)
    response = api.post(reverse("api:raterevision-activate", args=[first.pk]), {}, format="json")
    assert response.status_code == 200 and response.json()["active"] is True
    assert active_number(card) == 1
    load_rates(card, DECK_C)  # live order: 1, 2, 1, 3
    rollback = reverse("api:ratecard-rollback", args=[card.pk])
    assert api.post(rollback).json()["number"] == 1
    assert active_number(card) == 1
    # The rolled-back revision left the history: the next roll-back goes further back, to 2.
    assert api.post(rollback).json()["number"] == 2
    response = api.post(rollback)
    assert response.status_code == 400
    assert response.json()["detail"] == "Revision 2 is the first that went live; there is nothing to roll back to."
    assert active_number(card) == 2


def test_activation_is_audit_logged_on_the_card(card) -> None:
    first = load_rates(card, DECK_A)
    second = load_rates(card, DECK_B)
    with change_context(source="test"):
        rate_card_rollback(card=card)
    entry = ObjectChange.objects.filter(object_type__model="ratecard", object_id=card.pk).first()
    assert entry.changed_fields == ["active_revision"]
    assert (entry.prechange_data["active_revision"], entry.postchange_data["active_revision"]) == (second.pk,
                                                                                                  first.pk)


def test_roles_viewer_cannot_activate_or_roll_back(api_for, viewer_user, card) -> None:
    first = load_rates(card, DECK_A)
    load_rates(card, DECK_B)
    client = api_for(viewer_user)
    before = ObjectChange.objects.count()
    assert client.post(reverse("api:raterevision-activate", args=[first.pk])).status_code == 403
    assert client.post(reverse("api:ratecard-rollback", args=[card.pk])).status_code == 403
    assert active_number(card) == 2
    assert ObjectChange.objects.count() == before
    assert client.get(reverse("api:raterevision-list"), {"rate_card": card.pk}).json()["count"] == 2


def test_scheduled_import_goes_live_when_due(card) -> None:
    load_rates(card, DECK_A, now=NOON)
    later = load_rates(card, DECK_B, date_live=NOON + timedelta(hours=1), now=NOON)
    assert active_number(card) == 1
    job = Job.objects.get(kind=ACTIVATE_DUE_JOB)
    assert job.run_after == NOON + timedelta(hours=1)
    with change_context(source="test"):
        assert rate_revisions_activate_due(now=NOON + timedelta(minutes=59)) == []
        assert active_number(card) == 1
        assert rate_revisions_activate_due(now=NOON + timedelta(hours=1)) == [later]
        assert active_number(card) == 2
        # Idempotent: a revision goes live once, and a rolled-back scheduled one stays rolled back.
        rate_card_rollback(card=card, now=NOON + timedelta(hours=2))
        assert rate_revisions_activate_due(now=NOON + timedelta(hours=3)) == []
    assert active_number(card) == 1


def test_latest_due_revision_wins(card) -> None:
    load_rates(card, DECK_A, now=NOON)
    load_rates(card, DECK_B, date_live=NOON + timedelta(hours=1), now=NOON)
    load_rates(card, DECK_C, date_live=NOON + timedelta(hours=2), now=NOON)
    with change_context(source="test"):
        assert [r.number for r in rate_revisions_activate_due(now=NOON + timedelta(days=1))] == [2, 3]
        assert active_number(card) == 3
        assert rate_card_rollback(card=card).number == 2


def test_activate_later_through_the_api_schedules(api, card) -> None:
    load_rates(card, DECK_A)
    second = load_rates(card, DECK_B, activate=False)
    when = datetime.now(UTC) + timedelta(days=1)
    response = api.post(reverse("api:raterevision-activate", args=[second.pk]), {"date_live": when.isoformat()},
                        format="json")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert active_number(card) == 1
    second.refresh_from_db()
    assert second.date_live == when
    with change_context(source="test"):
        assert rate_revisions_activate_due(now=when) == [second]
    assert active_number(card) == 2
    response = api.post(reverse("api:raterevision-activate", args=[second.pk]),
                        {"date_live": (when + timedelta(days=1)).isoformat()}, format="json")
    assert response.json()["errors"] == {"date_live": ["Revision 2 is already active."]}


def test_due_revisions_go_live_from_the_worker_and_the_command(card) -> None:
    load_rates(card, DECK_A)
    with change_context(source="test"):
        revision = load_rates(card, DECK_B, date_live=datetime.now(UTC) + timedelta(hours=1))
        Job.objects.filter(kind=ACTIVATE_DUE_JOB).update(run_after=datetime.now(UTC) - timedelta(seconds=1))
        RateRevision.objects.filter(pk=revision.pk).update(date_live=datetime.now(UTC) - timedelta(seconds=1))
    assert run_ready_jobs() == 1
    assert active_number(card) == 2
    assert ObjectChange.objects.filter(object_type__model="ratecard").first().source == "job"
    third = load_rates(card, DECK_C, activate=False)
    with change_context(source="test"):
        RateRevision.objects.filter(pk=third.pk).update(date_live=datetime.now(UTC) - timedelta(seconds=1))
    out = StringIO()
    call_command("activate_rate_revisions", stdout=out)
    assert out.getvalue() == "Activated Retail revision 3.\n1 revision activated.\n"
    assert active_number(card) == 3


def test_activating_the_active_revision_changes_nothing(card) -> None:
    revision = load_rates(card, DECK_A)
    before = ObjectChange.objects.count()
    with change_context(source="test"):
        rate_revision_activate(revision=revision)
    assert ObjectChange.objects.count() == before
