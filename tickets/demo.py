"""Demo tickets in every state across both franchises (called by seed_demo; idempotent)."""

from __future__ import annotations

from django.test import override_settings

from accounts.models import User
from tickets import services
from tickets.models import DEFAULT_SLA_MINUTES, Category, SlaPolicy, Ticket

CATEGORIES = [
    ("tpv", "Datáfono y TPV", ["agente1"]),
    ("red", "Red e internet", ["agente2"]),
    ("facturacion", "Facturación", ["agente1", "agente2"]),
]

# (franchisee, subject, category, priority, final state)
TICKETS = [
    ("franquiciado1", "El datáfono no imprime el ticket del cliente", "tpv", "high", "new"),
    ("franquiciado1", "La wifi del local se corta cada tarde", "red", "normal", "open"),
    ("franquiciado1", "Factura de octubre duplicada", "facturacion", "normal", "pending"),
    ("franquiciado1", "Pedido de rollos de papel térmico", "tpv", "low", "on_hold"),
    ("franquiciado1", "No puedo entrar en el TPV tras actualizar", "tpv", "urgent", "resolved"),
    ("franquiciado1", "Cambio de datos fiscales", "facturacion", "low", "closed"),
    ("franquiciado2", "El router parpadea en rojo", "red", "high", "new"),
    ("franquiciado2", "Cierre de caja descuadrado", "tpv", "normal", "open"),
    ("franquiciado2", "Necesito copia de la factura de septiembre", "facturacion", "low", "resolved"),
    ("franquiciado2", "El lector de códigos no responde", "tpv", "normal", "closed"),
]


def _users() -> dict[str, User]:
    names = {"franquiciado1", "franquiciado2", "agente1", "agente2", "supervisor"}
    return {u.username: u for u in User.objects.filter(username__in=names)}


def seed(*, password: str, stdout) -> list:
    users = _users()
    if len(users) < 5:
        stdout.write("tickets.demo: demo users missing, skipped")
        return []
    for priority, (first, resolution) in DEFAULT_SLA_MINUTES.items():
        SlaPolicy.objects.get_or_create(
            priority=priority, defaults={"first_response_minutes": first, "resolution_minutes": resolution}
        )
    categories = {}
    for slug, name, agents in CATEGORIES:
        category, _ = Category.objects.get_or_create(slug=slug, defaults={"name": name})
        category.agents.add(*[users[a] for a in agents])
        categories[slug] = category
    agent, supervisor = users["agente1"], users["supervisor"]
    created = 0
    for username, subject, slug, priority, state in TICKETS:
        requester = users[username]
        if Ticket.objects.filter(franchise_id=requester.franchise_id, subject=subject).exists():
            continue
        with override_settings(TICKETS_AUTO_ASSIGN="off"):
            ticket = services.create_ticket(
                actor=requester,
                subject=subject,
                description=f"{subject}.\n\nLo hemos probado reiniciando y sigue igual.",
                category=categories[slug],
                priority=priority,
            )
        created += 1
        if state == "new":
            continue
        services.claim(ticket=ticket, actor=agent)
        services.add_comment(
            ticket=ticket, actor=agent, body="Hola, lo estamos revisando. ¿Puedes enviarnos una foto del error?"
        )
        services.add_comment(
            ticket=ticket, actor=agent, body="Parece el mismo fallo que el del mes pasado.", internal=True
        )
        if state == "open":
            continue
        if state == "pending":
            services.change_status(ticket=ticket, actor=agent, status="pending")
            continue
        if state == "on_hold":
            services.change_status(ticket=ticket, actor=agent, status="on_hold")
            continue
        services.add_comment(ticket=ticket, actor=requester, body="Adjunto la foto, gracias.")
        services.add_comment(
            ticket=ticket, actor=agent, body="Solucionado: reinicia el equipo manteniendo pulsado 10 s."
        )
        services.resolve(ticket=ticket, actor=agent)
        services.rate(ticket=ticket, actor=requester, rating=5 if state == "resolved" else 4, comment="Muy rápido.")
        if state == "closed":
            services.close(ticket=ticket, actor=supervisor)
    stdout.write(f"tickets.demo: {created} tickets created")
    return []
