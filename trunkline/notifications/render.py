"""Message templates: the body an operator types, with placeholders such as {{ customer.name }}."""

from typing import Any

from django.template import Context, Engine, TemplateSyntaxError

# Plain text: no HTML escaping, and no template loaders (an {% include %} finds nothing).
_ENGINE = Engine(autoescape=False)


def check_template(text: str) -> str | None:
    """The error in a template, or None when it compiles."""
    try:
        _ENGINE.from_string(text)
    except TemplateSyntaxError as error:
        return str(error)
    return None


def render(text: str, context: dict[str, Any]) -> str:
    return _ENGINE.from_string(text).render(Context(context))
