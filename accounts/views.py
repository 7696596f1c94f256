"""Login, logout, the landing page by role, the user's profile (data, sessions) and password
reset by e-mail (Django's views; the work is in accounts.services and accounts.tasks)."""

import hashlib

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts import services
from accounts.access import is_agent
from accounts.forms import PortalPasswordResetForm, ProfileForm
from accounts.locale_views import GUESS_SESSION_KEY
from support_portal import throttle


def client_ip(request: HttpRequest) -> str | None:
    return get_client_ip_address(request) or None


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

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        user = self.request.user
        # Pages follow the saved language from the first page after login, on any device, and a
        # user without a time zone of their own gets it guessed by the browser (locale_views).
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.preferred_language, samesite="Lax")
        if not user.time_zone:
            self.request.session[GUESS_SESSION_KEY] = True
        return response

    def get_default_redirect_url(self) -> str:
        return "/agent/" if is_agent(self.request.user) else "/"


def home(request: HttpRequest) -> HttpResponse:
    """Franchisee home; support staff go to their dashboard."""
    if is_agent(request.user):
        return redirect("agent_dashboard")
    from tickets.selectors import recent_tickets

    return render(request, "accounts/home.html", {"recent_tickets": recent_tickets(request.user)})


def profile(request: HttpRequest) -> HttpResponse:
    """The user's own page: their data (POST saves it), notification preferences, where they are
    signed in, API tokens and the account's recent activity."""
    from accounts.selectors import active_sessions, recent_account_events

    form = ProfileForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.update_profile(user=request.user, ip=client_ip(request), **form.cleaned_data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("Datos guardados.") if changed else _("No había nada que cambiar."))
            return redirect("profile")
    context = {
        "form": form,
        "sessions": active_sessions(request.user, request.session.session_key),
        "events": recent_account_events(request.user),
    }
    return render(request, "accounts/profile.html", context, status=400 if form.errors else 200)


@require_POST
def end_other_sessions(request: HttpRequest) -> HttpResponse:
    """ "Cerrar sesión en todos los demás dispositivos": this session stays, every other one ends."""
    ended = services.end_other_sessions(user=request.user, keep=request.session, ip=client_ip(request))
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


@require_POST
def end_all_sessions(request: HttpRequest) -> HttpResponse:
    """ "Cerrar sesión en todos los dispositivos": every session ends, this one too (login page)."""
    services.end_other_sessions(user=request.user, keep=None, ip=client_ip(request))
    logout(request)
    messages.success(request, _("Se ha cerrado la sesión en todos los dispositivos."))
    return redirect("login")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's own password change form, saved by accounts.services.change_password: the other
    sessions stop authenticating (their sockets close with 4401, accounts.socket_auth); this one
    gets the new hash (update_session_auth_hash)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("profile")

    def form_valid(self, form):
        services.change_password(
            user=form.user, password=form.cleaned_data["new_password1"], ip=client_ip(self.request)
        )
        update_session_auth_hash(self.request, form.user)
        messages.success(self.request, _("Contraseña cambiada. Las demás sesiones se han cerrado."))
        return HttpResponseRedirect(self.get_success_url())


# --- password reset by e-mail ----------------------------------------------------------------------


def _email_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"password_reset.email:{digest}"


@method_decorator(login_not_required, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    """ "¿Has olvidado la contraseña?": the same answer (the "check your e-mail" page) and the same
    work for every well-formed address, known or not: the look-up and the e-mail run in a task.

    Limits (support_portal.throttle): PASSWORD_RESET_IP_RATE requests per address of the client
    (over it: a 429 page), PASSWORD_RESET_EMAIL_RATE per e-mail address (over it: the same answer,
    nothing sent, so a mailbox cannot be flooded and the limit tells nothing about the account).
    """

    template_name = "registration/password_reset_form.html"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("password_reset_done")

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        ip_key = f"password_reset.ip:{client_ip(request) or 'unknown'}"
        try:
            throttle.enforce(ip_key, "PASSWORD_RESET_IP_RATE", _("Demasiadas solicitudes desde esta dirección."))
        except throttle.RateLimited as limited:
            response = render(request, "registration/password_reset_limited.html", status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        email = form.cleaned_data["email"]
        rate = throttle.Rate.parse(settings.PASSWORD_RESET_EMAIL_RATE)
        if not throttle.is_over(_email_key(email), rate):
            throttle.record(_email_key(email), rate)
            services.request_password_reset(email=email, ip=client_ip(self.request))
        return HttpResponseRedirect(self.get_success_url())


@method_decorator(login_not_required, name="dispatch")
class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"

    def get_context_data(self, **kwargs) -> dict:
        return {**super().get_context_data(**kwargs), "reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


@method_decorator(login_not_required, name="dispatch")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link of the e-mail (valid PASSWORD_RESET_TIMEOUT seconds, once: the token hashes the
    password and the last login). The new password is saved by accounts.services.change_password."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form) -> HttpResponse:
        services.change_password(
            user=form.user, password=form.cleaned_data["new_password1"], ip=client_ip(self.request), reset=True
        )
        del self.request.session[INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


@method_decorator(login_not_required, name="dispatch")
class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"
