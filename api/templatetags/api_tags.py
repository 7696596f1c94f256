"""`{% api_tokens_panel %}`: the user's API tokens, a form to create one and revoke buttons.

Self-contained (forms post to /api/tokens/…): the profile page includes it; /api/tokens/ shows it too.
"""

from django import template

from api import tokens

register = template.Library()


@register.inclusion_tag("api/_tokens_panel.html", takes_context=True)
def api_tokens_panel(context, new_key: str | None = None) -> dict:
    request = context["request"]
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "tokens": list(tokens.user_tokens(request.user)),
        "new_key": new_key or context.get("new_key"),
        "next": request.get_full_path() if request.method == "GET" else "/api/tokens/",
    }
