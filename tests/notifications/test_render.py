"""The message template sandbox: three placeholders filled with plain strings, everything else refused."""

import time

import pytest

from trunkline.notifications.render import PLACEHOLDERS, TemplateError, check_template, render

VALUES = {"customer.name": "AT&T <Wholesale>", "contact.name": "Zoë O'Brien", "company": "Trunk & Co"}
USE = "use {{ customer.name }}, {{ contact.name }} or {{ company }}."
ATTACK = "{% for d in customer.deliveries.all %}{{ d.message.created_by.auth_token.key }}{% endfor %}"


def test_placeholders_are_filled_as_plain_text() -> None:
    text = "Dear {{ contact.name }},\n{{customer.name}} / {{   company\t}} & {{ customer.name }}.\n"
    assert check_template(text) == []
    assert render(text, VALUES) == "Dear Zoë O'Brien,\nAT&T <Wholesale> / Trunk & Co & AT&T <Wholesale>.\n"


def test_a_value_that_looks_like_a_placeholder_is_not_filled_again() -> None:
    values = {**VALUES, "customer.name": "{{ company }} {% now 'Y' %}"}
    assert render("Hi {{ customer.name }}", values) == "Hi {{ company }} {% now 'Y' %}"


def test_text_without_markup_is_unchanged() -> None:
    text = "Prices {from} 0.01 {per minute}; 100% up; a { b } c; {# not a comment #}"
    assert check_template(text) == []
    assert render(text, VALUES) == text


@pytest.mark.parametrize(("text", "problems"), [
    ("{{ contact.password }}", [f"Unknown placeholder {{{{ contact.password }}}}; {USE}"]),
    ("{{ customer }}", [f"Unknown placeholder {{{{ customer }}}}; {USE}"]),
    ("{{ customer.name|upper }}", [f"Unknown placeholder {{{{ customer.name|upper }}}}; {USE}"]),
    ("{{ Customer.Name }}", [f"Unknown placeholder {{{{ Customer.Name }}}}; {USE}"]),
    ("{{}}", [f"Unknown placeholder {{{{}}}}; {USE}"]),
    ("{% now 'Y' %}", [f"Template tags such as {{% now 'Y' %}} are not allowed; use only {USE[4:]}"]),
    (ATTACK, [
        f"Template tags such as {{% for d in customer.deliveries.all %}} are not allowed; use only {USE[4:]}",
        f"Unknown placeholder {{{{ d.message.created_by.auth_token.key }}}}; {USE}",
        f"Template tags such as {{% endfor %}} are not allowed; use only {USE[4:]}",
    ]),
    ("Hi {{ customer.name", [f'Unbalanced braces at "{{{{ customer.name": write placeholders as {USE[4:]}']),
    ("Hi customer.name }} there", [f'Unbalanced braces at "}}}} there": write placeholders as {USE[4:]}']),
    ("{{ customer.name {{ company }}", [
        f'Unbalanced braces at "{{{{ customer.name {{{{ ": write placeholders as {USE[4:]}']),
    ("50%} off {%", [f'Unbalanced braces at "%}} off {{%": write placeholders as {USE[4:]}',
                     f'Unbalanced braces at "{{%": write placeholders as {USE[4:]}']),
    ("{{ x }} and {{ x }}", [f"Unknown placeholder {{{{ x }}}}; {USE}"]),  # each problem once
])
def test_anything_else_is_refused(text: str, problems: list[str]) -> None:
    assert check_template(text) == problems
    with pytest.raises(TemplateError) as raised:
        render(text, VALUES)
    assert str(raised.value) == " ".join(problems)


def test_render_takes_strings_only() -> None:
    class Customer:
        name = "Acme"

    with pytest.raises(TypeError, match="plain string"):
        render("{{ customer.name }}", {**VALUES, "customer.name": Customer()})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="plain string"):
        render("{{ customer.name }}", {"customer.name": "Acme"})
    assert PLACEHOLDERS == ("customer.name", "contact.name", "company")


@pytest.mark.parametrize("unit", ["{%", "{{", "{% x", "{{ a"])
def test_unclosed_markup_is_read_in_linear_time(unit: str) -> None:
    """A body of 50,000 unclosed openers: the old lazy tag pattern re-read the rest of the text from each one
    (8,000 took 1.3 s, so this size would take minutes); one linear pass takes a fraction of a second. The bound is
    loose on purpose: it separates linear from quadratic on a busy machine, it does not measure speed."""
    text = unit * 50_000
    started = time.perf_counter()
    problems = check_template(text)
    elapsed = time.perf_counter() - started

    assert problems[0] == f'Unbalanced braces at "{text[:20]}": write placeholders as {{{{ customer.name }}}}, ' \
                          f'{{{{ contact.name }}}} or {{{{ company }}}}.'
    assert elapsed < 2.0
