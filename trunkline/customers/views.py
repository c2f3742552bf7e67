from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from trunkline.core import cardtabs, livecalls
from trunkline.core.integers import ascii_int
from trunkline.core.models import Job, SystemSettings
from trunkline.core.views import generic
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.core.views.owned import OwnedObjectDeleteView, OwnedObjectEditView
from trunkline.customers import selectors, services
from trunkline.customers.api.serializers import CustomerSerializer
from trunkline.customers.choices import DeliveryStatus, MessageChannel
from trunkline.customers.filtersets import CustomerFilterSet
from trunkline.customers.forms import (
    ContactForm,
    ContactPasswordForm,
    CustomerBulkEditForm,
    CustomerForm,
    SendMessageForm,
)
from trunkline.customers.models import Contact, Customer, Message, NumberBlock
from trunkline.customers.tables import CustomerTable
from trunkline.notifications import render as message_render
from trunkline.notifications.config import sms_config, smtp_config

RECENT_DELIVERIES = 20
AUDIT_PER_PAGE = 50
DELIVERIES_PER_PAGE = 100
PLACEHOLDERS = tuple(f"{{{{ {name} }}}}" for name in message_render.PLACEHOLDERS)


class CustomerListView(generic.ObjectListView):
    queryset = Customer.objects.all()
    filterset = CustomerFilterSet
    table = CustomerTable
    template_name = "customers/customer_list.html"
    search_placeholder = "Search name, email, website, tags, address"
    status_field = "status"
    default_ordering = ("name",)


class CustomerCardView(generic.ObjectView):
    """One tab of a customer card. The tab list is the card-tab registry's (core.cardtabs: each app registers its
    tabs in its AppConfig.ready()); a tab the operator's role does not see answers 403."""

    queryset = Customer.objects.all()
    tab: str  # the tab's registry key

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not cardtabs.may_see(self.tab, request.user):
            raise PermissionDenied(f"Your role ({cardtabs.role_of(request.user)}) does not see this tab.")
        return super().dispatch(request, *args, **kwargs)

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        return {}

    def get_extra_context(self, request: HttpRequest, obj: Customer) -> dict[str, Any]:
        tabs = [{"label": tab.label, "url": tab.url(obj.pk), "active": tab.key == self.tab}
                for tab in cardtabs.tabs_for(request.user)]
        return {"tabs": tabs, **self.get_tab_context(request, obj)}


class CustomerView(CustomerCardView):
    """The Main tab: summary, contacts, internal number blocks, message deliveries, details."""

    tab = "main"
    template_name = "customers/customer.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        return {
            "channels_in_use": selectors.channels_in_use(customer),
            "panels": livecalls.tab_panels(self.tab, request, customer),  # cdrs's Summary
            "contacts": selectors.contacts(customer),
            "number_blocks": selectors.number_blocks(customer),
            "number_range_set": selectors.number_range_set(),
            "deliveries": selectors.recent_deliveries(customer, RECENT_DELIVERIES),
            "recent_deliveries": RECENT_DELIVERIES,
        }


class CustomerAuditView(CustomerCardView):
    """The Audit Log tab: changes to the customer and to what belongs to it (Settings stay on the global log)."""

    tab = "audit_log"
    template_name = "customers/customer_audit.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        page = Paginator(selectors.customer_changes(customer), AUDIT_PER_PAGE).get_page(request.GET.get("page"))
        return {"page": page, "changes": page.object_list}


class CustomerEditView(generic.ObjectEditView):
    queryset = Customer.objects.all()
    form = CustomerForm


class CustomerDeleteView(generic.ObjectDeleteView):
    queryset = Customer.objects.all()


class CustomerBulkImportView(generic.BulkImportView):
    model = Customer
    serializer_class = CustomerSerializer
    required_columns = ("name", "currency")


class CustomerBulkImportStatusView(generic.BulkImportStatusView):
    model = Customer


class CustomerBulkEditView(generic.BulkEditView):
    queryset = Customer.objects.all()
    form = CustomerBulkEditForm


class CustomerBulkDeleteView(generic.BulkDeleteView):
    queryset = Customer.objects.all()


#
# Contacts
#


def _card_crumbs(customer: Customer) -> list[tuple[str, str]]:
    return [("Customers", reverse("customers:customer_list")), (str(customer), customer.get_absolute_url())]


class ContactEditView(OwnedObjectEditView):
    """Add or edit a contact from its customer's card; contact_save() writes it and emails the password."""

    queryset = Contact.objects.select_related("customer")
    owner_model = Customer
    tab = "main"
    form = ContactForm

    def save_form(self, request: HttpRequest, form: ContactForm) -> Contact:
        contact = form.save(commit=False)
        if contact.pk:
            return services.contact_save(contact=contact)
        password, auto = form.chosen_password()
        return services.contact_save(contact=contact, password=password, auto_generate_password=auto)


class ContactDeleteView(OwnedObjectDeleteView):
    queryset = Contact.objects.select_related("customer")
    owner_model = Customer
    tab = "main"
    consequence = ("The contact can no longer log into the portal and gets no more emails or SMS. The deletion is "
                   "kept in the customer's audit log.")


class ContactPasswordView(RoleRequiredMixin, View):
    """The key icon: reset a contact's password, generated and emailed or typed."""

    write = True
    template_name = "customers/contact_password.html"

    def render_form(self, request: HttpRequest, contact: Contact, form: ContactPasswordForm) -> HttpResponse:
        return render(request, self.template_name, {"object": contact, "form": form,
                                                    "crumbs": _card_crumbs(contact.customer)})

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact.objects.select_related("customer"), pk=pk)
        return self.render_form(request, contact, ContactPasswordForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        contact = get_object_or_404(Contact.objects.select_related("customer"), pk=pk)
        form = ContactPasswordForm(request.POST)
        if not form.is_valid():
            return self.render_form(request, contact, form)
        password, auto = form.chosen_password()
        try:
            services.contact_reset_password(contact=contact, password=password, auto_generate=auto)
        except ValidationError as error:
            generic.add_errors(form, error)
            return self.render_form(request, contact, form)
        if auto:
            messages.success(request, f"Emailed a new password to {contact.name} at {contact.email}.")
        else:
            messages.success(request, f"Set a new password for {contact.name}.")
        return redirect(contact.customer.get_absolute_url())


#
# Internal number blocks
#


class NumberBlockAssignView(RoleRequiredMixin, View):
    """`+` beside Internal Number Block: the next free block of Setup > Settings' range."""

    write = True

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        try:
            block = services.number_block_assign(customer=customer)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Assigned number block {block}.")
        return redirect(f"{customer.get_absolute_url()}#number-blocks")


class NumberBlockReleaseView(generic.ObjectDeleteView):
    queryset = NumberBlock.objects.select_related("customer")
    verb = "Release"
    consequence = ("The numbers return to the pool and the next assignment may give them to another customer. "
                   "The release is kept in the customer's audit log.")

    def delete_object(self, obj: NumberBlock) -> None:
        services.number_block_release(block=obj)

    def get_success_url(self, obj: NumberBlock) -> str:
        return f"{obj.customer.get_absolute_url()}#number-blocks"


#
# Send Email & SMS
#


def _channel_problem(channel: str) -> str:
    """Why this channel cannot send now ("" when it can), said before the operator writes the message."""
    try:
        smtp_config() if channel == MessageChannel.EMAIL else sms_config()
    except ValidationError as error:
        return " ".join(error.messages)
    return ""


class CustomerSendView(RoleRequiredMixin, View):
    """Send Email & SMS to the customers ticked on the board: the board posts their pks here, this page asks for
    the message, and sending queues it (message_send) and opens the message's progress page."""

    write = True
    template_name = "customers/customer_send.html"

    def post(self, request: HttpRequest) -> HttpResponse:
        ids = [number for pk in request.POST.getlist("pk") if (number := ascii_int(pk)) is not None]
        customers = selectors.customers_to_message(ids)
        if not customers:
            messages.warning(request, "Select at least one customer to send to.")
            return redirect("customers:customer_list")
        form = SendMessageForm(request.POST if "_send" in request.POST else None)
        if "_send" in request.POST and form.is_valid():
            try:
                message = services.message_send(customers=customers, channel=form.cleaned_data["channel"],
                                                subject=form.cleaned_data["subject"], body=form.cleaned_data["body"],
                                                user=request.user)
            except ValidationError as error:
                generic.add_errors(form, error)
            else:
                count = message.deliveries.count()
                what = "email" if message.channel == MessageChannel.EMAIL else "SMS"
                messages.success(request, f"Queued the {what} to {count} recipient{'s' if count != 1 else ''}.")
                return redirect(message.get_absolute_url())
        reach = selectors.message_reach(customers)
        return render(request, self.template_name, {
            "form": form,
            "customers": customers,
            "channels": [(radio, reach[radio.data["value"]], _channel_problem(radio.data["value"]))
                         for radio in form["channel"]],
            "placeholders": PLACEHOLDERS,
            "email_from": SystemSettings.load().email_from,
            "return_url": request.POST.get("return_url") or reverse("customers:customer_list"),
        })

    def get(self, request: HttpRequest) -> HttpResponse:
        messages.info(request, "Tick customers on the board, then press Send.")
        return redirect("customers:customer_list")


class MessageView(generic.ObjectView):
    """A sent email or SMS: the job's progress (refreshing while it runs) and the delivery log per recipient."""

    queryset = Message.objects.select_related("job", "created_by")
    template_name = "customers/message.html"

    def get_extra_context(self, request: HttpRequest, obj: Message) -> dict[str, Any]:
        deliveries = selectors.message_deliveries(obj)
        counts = selectors.delivery_counts(deliveries)
        job: Job | None = obj.job
        total = job.progress_total if job else deliveries.count()
        done = job.progress_done if job else total
        page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
        return {
            "job": job,
            "finished": job is None or job.status in (Job.Status.DONE, Job.Status.FAILED),
            "done": done,
            "total": total,
            "percent": round(100 * done / total) if total else 100,
            "counts": [(status, label, counts.get(status, 0)) for status, label in DeliveryStatus.choices],
            "page": page,
            "deliveries": page.object_list,
        }

