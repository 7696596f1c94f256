"""manage.py sla_escalate: run the SLA escalation once (what the beat task does every 5 minutes)."""

from django.core.management.base import BaseCommand

from tickets import audit, services


class Command(BaseCommand):
    help = "Marca los tickets en riesgo o con el SLA incumplido y avisa (idempotente)."

    def handle(self, *args, **options) -> None:
        with audit.via("task"):
            counts = services.escalate_sla()
        self.stdout.write(f"at_risk={counts['at_risk']} breached={counts['breached']}")
