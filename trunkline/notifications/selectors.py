"""Reads for Setup > Jobs: the background queue as the page lists it."""

from __future__ import annotations

from django.db.models import QuerySet

from trunkline.core.models import Job


def jobs(status: str = "") -> QuerySet[Job]:
    """Newest first; only those in `status` when it is one."""
    queryset = Job.objects.order_by("-id")
    return queryset.filter(status=status) if status else queryset


def failed_job_count() -> int:
    return Job.objects.filter(status=Job.Status.FAILED).count()
