"""Language and time zone of the signed-in user: the switcher, the profile form, the browser's guess."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts import services
from accounts.locale_forms import LocaleForm
from support_portal.times import valid_zone, zone_name_of

#: session key set at login while the user has no time zone of their own (accounts.signals)
GUESS_SESSION_KEY = "time_zone_guess"


@login_not_required
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's switcher (cookie + redirect); a signed-in user's choice is also saved, so e-mails
    and pushed notifications follow it."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    saving = request.method == "POST" and user.is_authenticated and translation.check_for_language(language)
    if saving and language != user.preferred_language:
        services.save_locale(user=user, language=language)
    return response


@require_POST
def save_locale(request: HttpRequest) -> HttpResponse:
    """The profile's language and time-zone form."""
    form = LocaleForm(request.POST, user=request.user)
    if form.is_valid():
        language = form.cleaned_data["language"]
        services.save_locale(user=request.user, language=language, time_zone=form.cleaned_data["time_zone"])
        request.session.pop(GUESS_SESSION_KEY, None)
        translation.activate(language)
        messages.success(request, _("Idioma y zona horaria guardados."))
        response = redirect("profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
        return response
    messages.error(request, _("Revisa el idioma y la zona horaria."))
    return redirect("profile")


@require_POST
def guess_time_zone(request: HttpRequest) -> HttpResponse:
    """The browser's zone, sent once after the first login (static/js/timezone.js). Kept only while
    the user has none of their own and it differs from the franchise's (which they then follow)."""
    zone = request.POST.get("time_zone", "")
    guessing = request.session.pop(GUESS_SESSION_KEY, None) and not request.user.time_zone
    if guessing and valid_zone(zone) and zone != zone_name_of(request.user):
        services.save_locale(user=request.user, time_zone=zone)
    return HttpResponse(status=204)
