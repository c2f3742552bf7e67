from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from trunkline.core.jobs import MAX_ATTEMPTS
from trunkline.core.locking import keep_untouched_fields, lock_rows, post_initial_values, show_as_posted
from trunkline.core.models import Job, SystemSettings
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.notifications import selectors
from trunkline.notifications.forms import SettingsForm, TestEmailForm, TestSmsForm
from trunkline.notifications.jobs import retry_job
from trunkline.notifications.services import settings_send_test_email, settings_send_test_sms
from trunkline.notifications.transport import DeliveryError


class SettingsView(RoleRequiredMixin, View):
    """Setup > Settings (admins only): company, email (SMTP), SMS provider, internal number range."""

    admin_only = True
    template_name = "notifications/settings.html"

    def render_page(self, request: HttpRequest, form: SettingsForm, **extra) -> HttpResponse:
        return render(request, self.template_name, {
            "form": form,
            "email_form": extra.get("email_form") or TestEmailForm(),
            "sms_form": extra.get("sms_form") or TestSmsForm(),
            "settings": form.instance,
        })

    def get(self, request: HttpRequest) -> HttpResponse:
        form = SettingsForm(instance=SystemSettings.load())
        post_initial_values(form)
        return self.render_page(request, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        action = request.POST.get("_action", "save")
        if action in ("test_email", "test_sms"):
            return self.send_test(request, SystemSettings.load(), action)
        # Read, validated and saved on the locked row; fields left as the page showed them keep the stored value.
        with transaction.atomic():
            lock_rows(SystemSettings, [1])
            form = SettingsForm(request.POST, instance=SystemSettings.load())
            post_initial_values(form)
            untouched = keep_untouched_fields(form)
            saved = form.is_valid()
            if saved:
                form.save()
        if not saved:
            show_as_posted(form, untouched)
            return self.render_page(request, form)
        messages.success(request, "Settings saved.")
        return redirect("notifications:settings")

    def send_test(self, request: HttpRequest, settings: SystemSettings, action: str) -> HttpResponse:
        form_class, send, channel = ((TestEmailForm, settings_send_test_email, "email") if action == "test_email"
                                     else (TestSmsForm, settings_send_test_sms, "SMS"))
        test_form = form_class(request.POST)
        if test_form.is_valid():
            to = test_form.cleaned_data["to"]
            try:
                send(to=to)
            except (ValidationError, DeliveryError) as error:
                reason = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
                messages.error(request, f"The test {channel} was not sent: {reason}")
            else:
                messages.success(request, f"Test {channel} sent to {to}.")
            return redirect("notifications:settings")
        extra = {"email_form": test_form} if action == "test_email" else {"sms_form": test_form}
        return self.render_page(request, SettingsForm(instance=settings), **extra)


JOBS_PER_PAGE = 50


class JobListView(RoleRequiredMixin, View):
    """Setup > Jobs (operators and admins): the background queue, newest first, with Retry on failed jobs."""

    write = True

    def get(self, request: HttpRequest) -> HttpResponse:
        status = request.GET.get("status", "")
        if status not in Job.Status.values:
            status = ""
        page = Paginator(selectors.jobs(status), JOBS_PER_PAGE).get_page(request.GET.get("page"))
        return render(request, "notifications/jobs.html", {
            "page": page, "jobs": page.object_list, "status": status, "statuses": Job.Status.choices,
            "failed_count": selectors.failed_job_count(), "max_attempts": MAX_ATTEMPTS,
        })


class JobRetryView(RoleRequiredMixin, View):
    write = True

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        get_object_or_404(Job, pk=pk)
        try:
            job = retry_job(pk)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Job {job.pk} ({job.kind}) is queued again.")
        return redirect(f"{reverse('notifications:jobs')}?status=failed")
