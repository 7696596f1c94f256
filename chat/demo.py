"""Demo chat for seed_demo: one conversation between franquiciado1 and agente1 (idempotent)."""

from django.utils import timezone

from accounts.models import User
from chat.models import Conversation, Message

DEMO_TOPIC = "El datáfono no imprime el ticket"
DEMO_LINES = [
    ("franquiciado1", "Hola, desde esta mañana el datáfono cobra pero no imprime el ticket."),
    ("agente1", "Hola Lucía. ¿Has probado a apagarlo y cambiar el rollo de papel?"),
    ("franquiciado1", "Sí, y sigue igual."),
    ("agente1", "Vamos a reiniciar la configuración de impresión: menú 4 › 2 › Restablecer."),
    ("franquiciado1", "¡Ya imprime! Gracias."),
]


def seed(*, password: str, stdout) -> list:
    franchisee = User.objects.filter(username="franquiciado1").first()
    agent = User.objects.filter(username="agente1").first()
    if franchisee is None or agent is None:
        return []
    conversation, created = Conversation.objects.get_or_create(
        franchisee=franchisee,
        topic=DEMO_TOPIC,
        defaults={
            "franchise_id": franchisee.franchise_id,
            "agent": agent,
            "status": Conversation.Status.CLOSED,
            "resolved_in_chat": True,
            "rating": 5,
            "accepted_at": timezone.now(),
            "closed_at": timezone.now(),
            "closed_by": agent,
        },
    )
    if created:
        people = {"franquiciado1": franchisee, "agente1": agent}
        Message.objects.create(
            conversation=conversation, kind=Message.Kind.SYSTEM, body=f"{agent.display_name} se ha unido al chat."
        )
        for index, (username, body) in enumerate(DEMO_LINES):
            Message.objects.create(
                conversation=conversation, author=people[username], body=body, client_id=f"demo-{index}"
            )
        Message.objects.create(
            conversation=conversation,
            kind=Message.Kind.SYSTEM,
            body=f"{agent.display_name} ha marcado el problema como resuelto.",
        )
        stdout.write(f"Demo chat #{conversation.pk} created.")
    return []
