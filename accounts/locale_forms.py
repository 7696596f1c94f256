"""The profile's language and time-zone form."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import User

#: the zones offered first: the network's (mainland Spain and the Canary Islands)
COMMON_ZONES = ["Europe/Madrid", "Atlantic/Canary", "Europe/Lisbon", "Europe/London"]


def zone_choices() -> list[tuple[str, str]]:
    others = sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return [(zone, zone.replace("_", " ")) for zone in dict.fromkeys([*COMMON_ZONES, *others])]


class LocaleForm(forms.Form):
    language = forms.ChoiceField(label=_("Idioma"), choices=settings.LANGUAGES)
    time_zone = forms.ChoiceField(
        label=_("Zona horaria"),
        required=False,
        help_text=_("Todas las horas del portal y de los correos se muestran en esta zona."),
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        initial = {"language": user.preferred_language, "time_zone": user.time_zone}
        super().__init__(*args, initial=initial, **kwargs)
        franchise_zone = user.franchise.time_zone if user.franchise_id else settings.TIME_ZONE
        default = _("La de mi franquicia (%(zone)s)") if user.franchise_id else _("La del portal (%(zone)s)")
        self.fields["time_zone"].choices = [("", default % {"zone": franchise_zone}), *zone_choices()]
