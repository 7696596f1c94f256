"""`{% locale_preferences_form %}`: the profile's language and time-zone panel (self-contained)."""

from django import template

from accounts.locale_forms import LocaleForm

register = template.Library()


@register.inclusion_tag("accounts/_locale_form.html", takes_context=True)
def locale_preferences_form(context) -> dict:
    request = context["request"]
    return {"form": LocaleForm(user=request.user), "csrf_token": context.get("csrf_token")}
