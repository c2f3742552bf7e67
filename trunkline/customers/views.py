from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from trunkline.audit.models import ObjectChange
from trunkline.core.integers import ascii_int
from trunkline.core.models import Job, SystemSettings
from trunkline.core.views import generic
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.customers import services
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

# The tabs on the left of a customer card, in the order of the mission page (Main, Auth, Routing, Stats, Latest
# Calls, Dialogs, Payments, DID, CDR, Packages, Invoices, Contracts), then Audit Log; each (label, URL name taking
# the customer's pk). A tab is listed once the issue that fills it lands: adding one is one line here.
CARD_TABS: tuple[tuple[str, str], ...] = (
    ("Main", "customers:customer"),
    ("Auth", "sipauth:auth_tab"),
    ("Routing", "customer_routing:routing_tab"),
    ("Latest Calls", "customer_routing:latest_calls_tab"),
    ("Audit Log", "customers:customer_audit"),
)
RECENT_DELIVERIES = 20
AUDIT_PER_PAGE = 50
DELIVERIES_PER_PAGE = 100
PLACEHOLDERS = tuple(f"{{{{ {name} }}}}" for name in message_render.PLACEHOLDERS)


def channels_in_use(customer: Customer) -> int:
    """Calls the customer has up right now. Trunkline has no call control yet, so none are ever up; the issue that
    brings live calls (Dialogs) counts them here, and the card's "Channels in use" follows."""
    return 0


class CustomerListView(generic.ObjectListView):
    queryset = Customer.objects.all()
    filterset = CustomerFilterSet
    table = CustomerTable
    template_name = "customers/customer_list.html"
    search_placeholder = "Search name, email, website, tags, address"
    status_field = "status"
    default_ordering = ("name",)


class CustomerCardView(generic.ObjectView):
    """One tab of a customer card; the tab list comes from CARD_TABS."""

    queryset = Customer.objects.all()
    tab: str

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        return {}

    def get_extra_context(self, request: HttpRequest, obj: Customer) -> dict[str, Any]:
        tabs = [{"label": label, "url": reverse(name, args=[obj.pk]), "active": label == self.tab}
                for label, name in CARD_TABS]
        return {"tabs": tabs, **self.get_tab_context(request, obj)}


class CustomerView(CustomerCardView):
    """The Main tab: summary, contacts, internal number blocks, message deliveries, details."""

    tab = "Main"
    template_name = "customers/customer.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        settings = SystemSettings.load()
        return {
            "channels_in_use": channels_in_use(customer),
            "contacts": customer.contacts.all(),
            "number_blocks": customer.number_blocks.all(),
            "number_range_set": bool(settings.number_range_start and settings.number_block_size),
            "deliveries": customer.deliveries.select_related("message", "contact").order_by("-id")[
                :RECENT_DELIVERIES],
            "recent_deliveries": RECENT_DELIVERIES,
        }


class CustomerAuditView(CustomerCardView):
    """The Audit Log tab: changes to the customer, its contacts and number blocks, and the settings it uses."""

    tab = "Audit Log"
    template_name = "customers/customer_audit.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        customer_type = ContentType.objects.get_for_model(Customer)
        changes = ObjectChange.objects.filter(
            Q(object_type=customer_type, object_id=customer.pk)
            | Q(related_object_type=customer_type, related_object_id=customer.pk)
            | Q(object_type=ContentType.objects.get_for_model(SystemSettings))
        ).select_related("object_type").order_by("-time", "-id")
        page = Paginator(changes, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
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


class ContactEditView(generic.ObjectEditView):
    """Add (from a card: ?customer=<pk>) or edit a contact; contact_save() writes it and emails the password."""

    queryset = Contact.objects.select_related("customer")
    form = ContactForm

    def get_object(self, pk: int | None) -> Contact:
        contact = super().get_object(pk)
        customer = self.request.GET.get("customer", "")
        if contact.pk is None and ascii_int(customer) is not None:
            # Added from a card: the crumbs and Cancel lead back to that card.
            contact.customer = get_object_or_404(Customer, pk=customer)
        return contact

    def save_form(self, request: HttpRequest, form: ContactForm) -> Contact:
        contact = form.save(commit=False)
        if contact.pk:
            return services.contact_save(contact=contact)
        password, auto = form.chosen_password()
        return services.contact_save(contact=contact, password=password, auto_generate_password=auto)

    def get_crumbs(self, obj: Contact) -> list[tuple[str, str]]:
        return _card_crumbs(obj.customer) if obj.customer_id else [("Customers", reverse("customers:customer_list"))]

    def get_return_url(self, obj: Contact) -> str:
        return obj.customer.get_absolute_url() if obj.customer_id else reverse("customers:customer_list")


class ContactDeleteView(generic.ObjectDeleteView):
    queryset = Contact.objects.select_related("customer")
    consequence = ("The contact can no longer log into the portal and gets no more emails or SMS. The deletion is "
                   "kept in the customer's audit log.")

    def get_success_url(self, obj: Contact) -> str:
        return obj.customer.get_absolute_url()


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
        customers = list(Customer.objects.filter(pk__in=ids).annotate(contact_count=Count("contacts")).order_by("name"))
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
        contacts = Contact.objects.filter(customer__in=customers)
        # What each channel reaches, as the service counts it: every contact email, every contact mobile, once.
        reach = {MessageChannel.EMAIL: contacts.values("email").distinct().count(),
                 MessageChannel.SMS: contacts.exclude(mobile="").values("mobile").distinct().count()}
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
        deliveries = obj.deliveries.select_related("customer", "contact").order_by("id")
        counts = dict(deliveries.values_list("status").annotate(n=Count("id")).order_by())
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

