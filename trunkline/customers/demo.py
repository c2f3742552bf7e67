"""Believable demo customers: deterministic, so `trunkline demo` twice gives the same 50."""

import random
from decimal import Decimal

from trunkline.customers.choices import CustomerStatus
from trunkline.customers.models import Customer

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
