"""Field validators shared by every app."""

import tomllib

import pycountry
from django.core.exceptions import ValidationError

CURRENCY_CHOICES = sorted((c.alpha_3, f"{c.alpha_3} — {c.name}") for c in pycountry.currencies)
COUNTRY_CHOICES = sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda choice: choice[1])
CURRENCY_CODES = frozenset(code for code, _ in CURRENCY_CHOICES)
COUNTRY_CODES = frozenset(code for code, _ in COUNTRY_CHOICES)


def validate_currency(value: str) -> None:
    if value not in CURRENCY_CODES:
        raise ValidationError(f"'{value}' is not an ISO 4217 currency code (such as USD, EUR, GBP).", code="currency")


def validate_country(value: str) -> None:
    if value and value not in COUNTRY_CODES:
        raise ValidationError(f"'{value}' is not an ISO 3166-1 alpha-2 country code (such as GB, US, DE).",
                              code="country")


def validate_toml(value: str) -> None:
    try:
        tomllib.loads(value or "")
    except tomllib.TOMLDecodeError as error:
        # tomllib's message already ends with "(at line N, column M)".
        raise ValidationError(f"Invalid TOML: {error}", code="toml") from error


def validate_percentage(value) -> None:
    if value is not None and not (0 <= value <= 100):
        raise ValidationError("Must be a percentage between 0 and 100.", code="percentage")


def validate_tags(value) -> None:
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError("Tags must be a list of strings.", code="tags")
    for tag in value:
        if not tag.strip():
            raise ValidationError("Tags cannot be empty.", code="tags")
        if "," in tag or len(tag) > 50:
            raise ValidationError(f"Tag '{tag}' must be at most 50 characters and contain no comma.", code="tags")


def normalize_tags(value) -> list[str]:
    """Tags as typed in a form or a CSV cell ("vip, wholesale") or a list: trimmed, unique, in order."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return list(dict.fromkeys(tag.strip() for tag in value if isinstance(tag, str) and tag.strip()))
