"""View decorators for role checks (login is already required by middleware)."""

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse

from accounts.access import is_agent, is_supervisor


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only support staff; everyone else gets a 404 (the page does not exist for them)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_agent(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def supervisor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_supervisor(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
