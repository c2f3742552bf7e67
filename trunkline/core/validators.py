"""Field validators shared by every app."""

import ipaddress
import re
import tomllib

import phonenumbers
import pycountry
from django.core.exceptions import ValidationError

# ISO 4217 codes that are no money to bill a customer in or buy from a carrier: refused wherever a currency is
# entered (customers, rate cards, their imports and the API) and left out of every currency list.
_NOT_MONEY = {
    "XXX": "transactions where no currency is involved",
    "XTS": "testing",
    **dict.fromkeys(("XAU", "XAG", "XPT", "XPD"), "a precious metal"),
    **dict.fromkeys(("XBA", "XBB", "XBC", "XBD"), "a bond-market unit of account"),
    **dict.fromkeys(("XDR", "XSU", "XUA", "XAD"), "a unit of account between institutions"),
    # Fund codes: indexed or settlement units beside the country's currency (CLF beside CLP, USN beside USD).
    **dict.fromkeys(("BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"), "a fund (an indexed or "
                                                                                    "settlement unit)"),
}
CURRENCY_CHOICES = sorted((c.alpha_3, f"{c.alpha_3} — {c.name}") for c in pycountry.currencies
                          if c.alpha_3 not in _NOT_MONEY)
COUNTRY_CHOICES = sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda choice: choice[1])
CURRENCY_CODES = frozenset(code for code, _ in CURRENCY_CHOICES)
COUNTRY_CODES = frozenset(code for code, _ in COUNTRY_CHOICES)


# C0 controls (CR and LF among them), DEL, C1 controls and the Unicode line and paragraph separators: in a
# name or a subject they break email headers (the send job failed on a subject holding CR LF), SIP headers and
# CSV lines, and a single-line field has no use for any of them.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_CHARACTERS_MESSAGE = "Control characters (such as line breaks) are not allowed here."


def reject_control_characters(value: str) -> None:
    """For single-line text (names, subjects, header values); multi-line fields (bodies, notes) do not use it."""
    if value and _CONTROL_CHARACTERS.search(value):
        raise ValidationError(CONTROL_CHARACTERS_MESSAGE, code="control_characters")


def validate_currency(value: str) -> None:
    if value in _NOT_MONEY:
        raise ValidationError(f"{value} is not a currency to bill in: ISO 4217 keeps it for {_NOT_MONEY[value]}. "
                              f"Use a currency such as USD, EUR or GBP.", code="currency")
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


_E164_EXAMPLE = "such as +447911123456"
# What is_possible_number_with_reason() finds wrong, as a message: value, country, digits after the code, code.
_LENGTH_PROBLEMS = {
    phonenumbers.ValidationResult.TOO_SHORT: "'{}' is too short for {}: {} digits after +{}.",
    phonenumbers.ValidationResult.TOO_LONG: "'{}' is too long for {}: {} digits after +{}.",
    phonenumbers.ValidationResult.INVALID_LENGTH: "'{}' has a length no number of {} has: {} digits after +{}.",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "'{}' is too short for {}: {} digits after +{} can only "
                                                          "be a local number, without its area code.",
}
_PARSE_PROBLEMS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "'{}' does not start with a country calling code after "
                                                            "the + (such as +44 or +1).",
    phonenumbers.NumberParseException.TOO_LONG: "'{}' is too long for a phone number (E.164 allows 15 digits).",
    phonenumbers.NumberParseException.NOT_A_NUMBER: f"'{{}}' is not a phone number: write + then the country code "
                                                    f"and the number, {_E164_EXAMPLE}.",
}


def _country(code: int) -> str:
    """"+44 (United Kingdom)": a calling code and the main country using it."""
    region = phonenumbers.region_code_for_country_code(code)
    country = pycountry.countries.get(alpha_2=region) if region and region.isalpha() else None
    return f"+{code} ({country.name})" if country else f"+{code}"


def validate_e164(value: str) -> None:
    """A phone number in E.164 (+, the country code, the number) that is possible for its country: a length the
    country's numbers can have (libphonenumber's is_possible_number). Not is_valid_number: that also needs the
    number range to be allocated in the library's copy of the numbering plans, which lags behind new ranges
    and refuses numbers that work. The message says what is wrong."""
    if not value:
        return
    if not value.startswith("+"):
        raise ValidationError(f"'{value}' is not in E.164 form: start with + and the country code, "
                              f"{_E164_EXAMPLE}.", code="e164")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        template = _PARSE_PROBLEMS.get(error.error_type, "'{}' is too short for a phone number.")
        raise ValidationError(template.format(value), code="e164") from error
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        raise ValidationError(f"'{value}': +{number.country_code} is not a country calling code.", code="e164")
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        code = number.country_code
        raise ValidationError(_LENGTH_PROBLEMS[reason].format(value, _country(code), len(str(number.national_number)),
                                                              code), code="e164")
    written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if written != value:
        raise ValidationError(f"'{value}' is not in E.164 form: write it as {written}.", code="e164")


def normalize_e164(value: str) -> str:
    """"+44 7700 900123" becomes "+447700900123"; anything unparseable is returned as typed, for the validator."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value.strip()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_ip_list(value) -> None:
    """A list of IP addresses or networks (CIDR), IPv4 or IPv6."""
    if not isinstance(value, list):
        raise ValidationError("Give a list of IP addresses or networks (CIDR).", code="ip_list")
    for item in value:
        try:
            ipaddress.ip_network(str(item).strip(), strict=False)
        except ValueError as error:
            raise ValidationError(f"'{item}' is not an IP address or network (CIDR).", code="ip_list") from error


def normalize_ip_list(value) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    return [str(item).strip() for item in value or [] if str(item).strip()]
