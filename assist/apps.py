from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssistConfig(AppConfig):
    """The agent's desk helpers: knowledge at hand, similar tickets, who else is on a ticket."""

    name = "assist"
    verbose_name = _("Asistencia al agente")
