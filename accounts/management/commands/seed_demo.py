"""`manage.py seed_demo [--password P]`: idempotent demo data for every app."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

# Order matters: users first, then what refers to them.
DEMO_MODULES = ["accounts.demo", "knowledge_base.demo", "tickets.demo", "chat.demo"]


class Command(BaseCommand):
    help = "Load demo franchises, users, articles, tickets and a chat. Running it twice changes nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default="demo1234", help="password of every demo user")

    def handle(self, *args, password: str, **options) -> None:
        logins: list[tuple[str, str]] = []
        with transaction.atomic():
            for module_name in DEMO_MODULES:
                try:
                    module = import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    continue
                logins += module.seed(password=password, stdout=self.stdout) or []
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password: {password}):"))
        for username, role in logins:
            self.stdout.write(f"  {username:<15} {role}")
