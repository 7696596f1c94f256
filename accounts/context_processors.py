"""Template context: the user's role flags, for navigation."""

from django.http import HttpRequest

from accounts.access import is_agent, is_supervisor


def roles(request: HttpRequest) -> dict[str, bool]:
    user = getattr(request, "user", None)
    return {"is_agent": is_agent(user), "is_supervisor": is_supervisor(user)}
