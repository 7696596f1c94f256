"""manage.py auto_close_resolved: close tickets resolved more than TICKETS_AUTO_CLOSE_DAYS ago."""

from django.core.management.base import BaseCommand

from tickets import audit, services


class Command(BaseCommand):
    help = "Cierra los tickets resueltos hace más de TICKETS_AUTO_CLOSE_DAYS días."

    def handle(self, *args, **options) -> None:
        with audit.via("task"):
            closed = services.auto_close_resolved()
        self.stdout.write(f"closed={closed}")
