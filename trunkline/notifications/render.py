"""Message templates: the subject and body an operator types, with placeholders such as {{ customer.name }}.

Not a template engine. Django's engine (used here before) evaluated whatever the operator wrote against whole
model objects, so `{% for d in customer.deliveries.all %}{{ d.message.created_by.auth_token.key }}{% endfor %}`
mailed out an admin's API token. This sandbox knows three placeholders, fills them with plain strings, and
refuses any other `{{ ... }}` or `{% ... %}`: nothing the operator writes can reach an object or run code.
"""

import re
from collections.abc import Mapping

# The only names a message may use, each filled with a plain string per recipient.
PLACEHOLDERS = ("customer.name", "contact.name", "company")
PLACEHOLDER_LIST = "{{ customer.name }}, {{ contact.name }} or {{ company }}"

# One pass over the text finds every piece of template markup: a placeholder ({{ name }}, spaces optional), a
# tag ({% ... %}), or a lone {{ }} {% %} that opens or closes nothing. Braces are not allowed inside a
# placeholder, so "{{ a {{ company }}" is a lone "{{" followed by a good placeholder, not one odd name. No part
# may run past the next brace or percent sign: a body of 100,000 unclosed "{%" is then read in one linear pass
# (a lazy `{%.*?%}` re-read the rest of the text from each of them: 8,000 took 1.3 s).
_MARKUP = re.compile(r"\{\{(?P<name>[^{}]*)\}\}|(?P<tag>\{%[^{}%]*%\})|(?P<stray>\{\{|\}\}|\{%|%\})")
_CONTEXT = 20  # characters quoted after a lone brace, so the operator can find it


class TemplateError(ValueError):
    """A message that uses markup other than the known placeholders; the text says what and where."""


def _problem(match: re.Match[str], text: str) -> str | None:
    if match["name"] is not None:
        if match["name"].strip() in PLACEHOLDERS:
            return None
        return f"Unknown placeholder {match[0]}; use {PLACEHOLDER_LIST}."
    if match["tag"] is not None:
        return f"Template tags such as {match[0]} are not allowed; use only {PLACEHOLDER_LIST}."
    quoted = text[match.start():match.start() + _CONTEXT].split("\n")[0]
    return f"Unbalanced braces at \"{quoted}\": write placeholders as {PLACEHOLDER_LIST}."


def check_template(text: str) -> list[str]:
    """Every problem in a template, one message each (none when it only uses the known placeholders)."""
    problems = (_problem(match, text) for match in _MARKUP.finditer(text))
    return list(dict.fromkeys(problem for problem in problems if problem))


def render(text: str, values: Mapping[str, str]) -> str:
    """The text with each placeholder replaced by its value, inserted as is (plain text: "AT&T" stays "AT&T";
    a value that looks like a placeholder is not filled in again). Raises TemplateError for anything
    check_template refuses."""
    if set(values) != set(PLACEHOLDERS) or not all(isinstance(value, str) for value in values.values()):
        # Strings only: the guarantee that no object ever reaches a template.
        raise TypeError(f"render() takes a plain string for each of {', '.join(PLACEHOLDERS)}.")
    if problems := check_template(text):
        raise TemplateError(" ".join(problems))
    return _MARKUP.sub(lambda match: values[match["name"].strip()], text)
