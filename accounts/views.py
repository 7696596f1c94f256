"""Login, logout and the landing page by role."""

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator

from accounts.access import is_agent
from support_portal import throttle


def _login_ip_key(request: HttpRequest) -> str:
    return f"login.ip:{get_client_ip_address(request) or 'unknown'}"


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's login, plus a per-IP throttle of failures (password spraying).

    django-axes locks a username+IP pair after AXES_FAILURE_LIMIT failures; on top of that an
    address with more than LOGIN_IP_FAILURE_RATE failures, whatever the usernames, gets the same
    lockout page (429) for every login attempt, existing account or not, until the window passes.
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if throttle.is_over(_login_ip_key(request), throttle.Rate.parse(settings.LOGIN_IP_FAILURE_RATE)):
            return render(request, settings.AXES_LOCKOUT_TEMPLATE, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        throttle.record(_login_ip_key(self.request), throttle.Rate.parse(settings.LOGIN_IP_FAILURE_RATE))
        return super().form_invalid(form)

    def get_default_redirect_url(self) -> str:
        return "/agent/" if is_agent(self.request.user) else "/"


def home(request: HttpRequest) -> HttpResponse:
    """Franchisee home; support staff go to their dashboard."""
    if is_agent(request.user):
        return redirect("agent_dashboard")
    from tickets.selectors import recent_tickets

    return render(request, "accounts/home.html", {"recent_tickets": recent_tickets(request.user)})
