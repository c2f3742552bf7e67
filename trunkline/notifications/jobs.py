"""Setup > Jobs: the background jobs an operator may look at and send back to the queue once they failed."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from trunkline.audit.handlers import record_update
from trunkline.core.jobs import requeue_failed
from trunkline.core.models import Job

AUDITED_FIELDS = ("kind", "status", "attempts", "run_after", "finished", "last_error")


def _audit_data(job: Job) -> dict[str, Any]:
    return json.loads(json.dumps({name: getattr(job, name) for name in AUDITED_FIELDS}, cls=DjangoJSONEncoder))


def retry_job(job_id: int) -> Job:
    """Queue a failed job again for the current operator. Jobs are not change-logged (the worker changes them all
    the time); a retry is an operator's change, so it is logged here, in the same transaction, with the job before
    and after. Raises ValidationError when the job cannot be retried (see requeue_failed)."""
    with transaction.atomic():
        before, job = requeue_failed(job_id)
        record_update(job, _audit_data(before), _audit_data(job))
    return job
