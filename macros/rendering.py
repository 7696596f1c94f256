"""Placeholder substitution for macros: a fixed set of `{{name}}` fields, one pass, plain text.

Deliberately not Django's template engine: macro bodies are user text, and a template would let
them reach attributes, tags and filters. Here a placeholder is only ever replaced by a value from
`context()`; a value that itself looks like a placeholder is not expanded again (one `re.sub`
pass), and the output is plain text that the ticket/chat renderers escape as any reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_áéíóúñ]+)\s*\}\}", re.IGNORECASE)


@dataclass(frozen=True)
class Field:
    key: str
    aliases: tuple[str, ...]
    label: str


#: The placeholders a macro may use (Spanish name first; English aliases accepted).
FIELDS: tuple[Field, ...] = (
    Field("franquiciado", ("franchisee",), _("nombre del franquiciado")),
    Field("ticket", ("numero", "número", "ticket_number"), _("número del ticket (T-000123)")),
    Field("agente", ("agent",), _("tu nombre")),
    Field("asunto", ("subject", "tema"), _("asunto del ticket o tema del chat")),
    Field("franquicia", ("franchise",), _("nombre de la franquicia")),
)
_KEYS = {alias: f.key for f in FIELDS for alias in (f.key, *f.aliases)}


def unknown_placeholders(body: str) -> list[str]:
    """Placeholder names in `body` that are not in FIELDS (the form refuses them)."""
    return sorted({m.group(1) for m in PLACEHOLDER.finditer(body) if m.group(1).lower() not in _KEYS})


def ticket_context(ticket, agent) -> dict[str, str]:
    requester = ticket.requester
    return {
        "franquiciado": requester.display_name if requester else "",
        "ticket": ticket.number,
        "agente": agent.display_name,
        "asunto": ticket.subject,
        "franquicia": ticket.franchise.name,
    }


def conversation_context(conversation, agent) -> dict[str, str]:
    ticket = conversation.ticket
    return {
        "franquiciado": conversation.franchisee.display_name,
        "ticket": ticket.number if ticket else "",
        "agente": agent.display_name,
        "asunto": conversation.topic,
        "franquicia": conversation.franchise.name,
    }


def blank_context(agent) -> dict[str, str]:
    return {f.key: "" for f in FIELDS} | {"agente": agent.display_name}


def render(body: str, context: dict[str, str]) -> str:
    """Replace each known placeholder with its value; unknown ones stay as written."""

    def value(match: re.Match) -> str:
        key = _KEYS.get(match.group(1).lower())
        return str(context.get(key, "")) if key else match.group(0)

    return PLACEHOLDER.sub(value, body)
