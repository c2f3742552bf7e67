"""Believable demo customers: deterministic, so `trunkline demo` twice gives the same 50."""

import random
from decimal import Decimal

from django.contrib.auth.hashers import make_password

from trunkline.core.models import SystemSettings
from trunkline.customers.choices import ContactType, CustomerStatus
from trunkline.customers.models import Contact, Customer
from trunkline.notifications import outbox

PREFIXES = ["Acme", "Blue Ocean", "Northwind", "Skyline", "Atlas", "Vertex", "Pioneer", "Crescent", "Summit",
            "Harbor", "Lumen", "Orbit", "Falcon", "Meridian", "Quantum", "Redwood", "Silverline", "Tidal",
            "Union", "Zenith", "Aurora", "Beacon", "Cobalt", "Delta", "Evergreen"]
SUFFIXES = ["Telecom", "Voice", "Communications", "Networks", "Connect", "VoIP", "Carrier Services",
            "Telecom Ltd", "Call Centre", "Dialer"]
PLACES = [
    ("GB", "London", "Greater London", "EC1A 1BB", "GBP", "Bishopsgate"),
    ("GB", "Manchester", "Greater Manchester", "M1 1AE", "GBP", "Deansgate"),
    ("US", "New York", "NY", "10001", "USD", "Broadway"),
    ("US", "Dallas", "TX", "75201", "USD", "Main Street"),
    ("US", "Miami", "FL", "33131", "USD", "Brickell Avenue"),
    ("DE", "Frankfurt am Main", "Hessen", "60311", "EUR", "Zeil"),
    ("NL", "Amsterdam", "Noord-Holland", "1012 JS", "EUR", "Damrak"),
    ("FR", "Paris", "Île-de-France", "75002", "EUR", "Rue de Rivoli"),
    ("ES", "Madrid", "Madrid", "28013", "EUR", "Gran Vía"),
    ("IN", "Mumbai", "Maharashtra", "400001", "USD", "Marine Drive"),
    ("AE", "Dubai", "Dubai", "00000", "USD", "Sheikh Zayed Road"),
    ("NG", "Lagos", "Lagos", "101241", "USD", "Broad Street"),
    ("PH", "Manila", "Metro Manila", "1000", "USD", "Roxas Boulevard"),
    ("CA", "Toronto", "ON", "M5H 2N2", "CAD", "King Street West"),
    ("AU", "Sydney", "NSW", "2000", "AUD", "George Street"),
]
TAGS = ["wholesale", "retail", "call-centre", "cli-route", "premium", "vip", "trial", "us-48", "prepaid", "postpaid"]
STATUS_WEIGHTS = [(CustomerStatus.ACTIVE, 70), (CustomerStatus.PENDING_APPROVAL, 12), (CustomerStatus.INACTIVE, 12),
                  (CustomerStatus.PENALTY, 6)]
# Mobile numbers: these plus two digits are valid for the country (libphonenumber); in the US and Canada they are
# the fictional 555-01xx range.
MOBILE_BASE = {"GB": "+4474001234", "US": "+120155501", "CA": "+141655501", "DE": "+49151234567", "NL": "+316123456",
               "FR": "+336123456", "ES": "+346123456", "IN": "+9181234567", "AE": "+9715012345", "NG": "+23480212345",
               "PH": "+6390512345", "AU": "+614915701"}
FIRST_NAMES = ["Alice", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam",
               "Maya", "Nikhil", "Olga", "Pablo", "Rosa", "Samir", "Tara", "Victor"]
LAST_NAMES = ["Adams", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Jansen",
              "Khan", "Lopez", "Martin", "Nwosu", "Okafor", "Patel", "Reyes", "Santos", "Tanaka", "Weber"]
# What a demo customer's contacts do: everyone has billing; some have a NOC contact too.
CONTACT_TYPES = (ContactType.BILLING, ContactType.NOC)
DEMO_EMAIL_FROM = "noc@trunkline-demo.example"
DEMO_COMPANY = "Trunkline Demo Carrier"
TAX_BY_COUNTRY = {"GB": Decimal("20"), "DE": Decimal("19"), "NL": Decimal("21"), "FR": Decimal("20"),
                  "ES": Decimal("21")}


def demo_customers(count: int = 50) -> list[dict]:
    rng = random.Random(20261128)
    names: list[str] = []
    while len(names) < count:
        name = f"{rng.choice(PREFIXES)} {rng.choice(SUFFIXES)}"
        if name not in names:
            names.append(name)
    customers = []
    statuses = [s for s, _ in STATUS_WEIGHTS]
    weights = [w for _, w in STATUS_WEIGHTS]
    for name in names:
        country, city, region, postcode, currency, street = rng.choice(PLACES)
        slug = name.lower().replace(" ", "")
        postpaid = rng.random() < 0.4
        tags = rng.sample(TAGS, rng.randint(0, 3))
        tags = [t for t in tags if t not in ("prepaid", "postpaid")] + ["postpaid" if postpaid else "prepaid"]
        customers.append({
            "name": name,
            "status": rng.choices(statuses, weights)[0],
            "currency": currency,
            "country": country,
            "city": city,
            "region": region,
            "postcode": postcode,
            "address_line1": f"{rng.randint(1, 250)} {street}",
            "website": f"https://www.{slug}.example",
            "paypal_email": f"billing@{slug}.example" if rng.random() < 0.5 else "",
            "debit_limit": Decimal(rng.choice([250, 500, 1000, 2500, 5000])) if postpaid else Decimal("0"),
            "minimum_payment": Decimal(rng.choice([10, 25, 50, 100])),
            "tax_rate": TAX_BY_COUNTRY.get(country, Decimal("0")),
            "channels": rng.choice([0, 30, 60, 120, 240, 500]),
            "cps": rng.choice([0, 5, 10, 20, 50]),
            "tags": tags,
            "email_verification": rng.random() < 0.2,
            "vars": '[cli]\npersist = true\n' if rng.random() < 0.15 else "",
        })
    return customers


def demo_customers_create() -> int:
    """Create the demo customers missing by name (validated, so audited like any write); returns how many were
    created. The caller provides the change context and the transaction."""
    existing = set(Customer.objects.values_list("name", flat=True))
    created = 0
    for data in demo_customers():
        if data["name"] in existing:
            continue
        customer = Customer(**data)
        customer.full_clean()
        customer.save()
        created += 1
    return created


def demo_contacts(customer: dict, number: int) -> list[dict]:
    """The contacts of the demo customer `customer` (the `number`th of the demo): one or two people with an email at
    the customer's domain and a mobile in its country."""
    rng = random.Random(f"{customer['name']} contacts")  # its own sequence: the customers above stay as they were
    slug = customer["name"].lower().replace(" ", "")
    firsts = rng.sample(FIRST_NAMES, 2)
    contacts = []
    for position, contact_type in enumerate(CONTACT_TYPES[:rng.choice([1, 2])]):
        first, last = firsts[position], rng.choice(LAST_NAMES)
        contacts.append({
            "name": f"{first} {last}",
            "email": f"{first}.{last}@{slug}.example".lower(),
            "mobile": f"{MOBILE_BASE[customer['country']]}{(2 * number + position) % 100:02d}",
            "contact_type": contact_type,
        })
    return contacts


def demo_contacts_create() -> int:
    """Give each demo customer without contacts its demo contacts (validated and audited); returns how many were
    created. They have no password (none can log in) until an operator sets one with the key icon."""
    customers = Customer.objects.in_bulk([data["name"] for data in demo_customers()], field_name="name")
    with_contacts = set(Contact.objects.values_list("customer_id", flat=True))
    taken = set(Contact.objects.values_list("email", flat=True))
    created = 0
    for number, data in enumerate(demo_customers()):
        customer = customers.get(data["name"])
        if customer is None or customer.pk in with_contacts:
            continue
        for fields in demo_contacts(data, number):
            if fields["email"] in taken:
                continue
            contact = Contact(customer=customer, password=make_password(None), **fields)
            contact.full_clean()
            contact.save()
            created += 1
    return created


def demo_settings_outbox() -> list[str]:
    """Point email and SMS in Setup > Settings at the outbox (`trunkline outbox`, started by `make run`) where they
    are not set up yet, so Send Email & SMS works in the demo; returns which ("email", "SMS")."""
    settings = SystemSettings.load()
    pointed = []
    if not settings.smtp_host:
        settings.smtp_host, settings.smtp_port = outbox.HOST, outbox.SMTP_PORT
        settings.smtp_security, settings.smtp_username, settings.smtp_password = "none", "", ""
        settings.email_from = settings.email_from or DEMO_EMAIL_FROM
        settings.company_name = settings.company_name or DEMO_COMPANY
        pointed.append("email")
    if not settings.sms_account_sid:
        settings.sms_api_url = f"http://{outbox.HOST}:{outbox.SMS_PORT}"
        settings.sms_account_sid, settings.sms_auth_token = outbox.SMS_ACCOUNT_SID, outbox.SMS_AUTH_TOKEN
        settings.sms_from = settings.sms_from or "Trunkline"
        pointed.append("SMS")
    if pointed:
        settings.full_clean()
        settings.save()
    return pointed
