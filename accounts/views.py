"""Login, logout, the landing page by role and the user's profile (sessions)."""

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

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


def profile(request: HttpRequest) -> HttpResponse:
    """The user's own page: who they are and where they are signed in (other apps add panels
    through `{% block profile_extra %}` of accounts/profile.html)."""
    from accounts.selectors import active_sessions

    sessions = active_sessions(request.user, request.session.session_key)
    return render(request, "accounts/profile.html", {"sessions": sessions})


@require_POST
def end_other_sessions(request: HttpRequest) -> HttpResponse:
    """ "Cerrar sesión en todos los demás dispositivos": this session stays, every other one ends."""
    from accounts.services import end_other_sessions as end_others

    ended = end_others(user=request.user, keep=request.session)
    messages.success(
        request,
        ngettext(
            "Se ha cerrado %(count)d sesión en otros dispositivos.",
            "Se han cerrado las sesiones en otros dispositivos (%(count)d).",
            ended,
        )
        % {"count": ended},
    )
    return redirect("profile")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's own password change: the other sessions stop authenticating (their sockets close
    with 4401, accounts.socket_auth); this one gets the new hash (update_session_auth_hash)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, _("Contraseña cambiada. Las demás sesiones se han cerrado."))
        return response
