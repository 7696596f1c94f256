"""`manage.py seed_demo [--password P]`: idempotent demo data for every app.

Quiet: the e-mails the demo data triggers (notifications of demo tickets) are written as files
under `var/demo-mail/` instead of the console, each app's progress line shows only with
`--verbosity 2`, and the logins are the last lines printed.
"""

import contextlib
import io
import logging
from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

DEMO_MAIL_DIR = settings.VAR_DIR / "demo-mail"

# Order matters: users first, then what refers to them.
DEMO_MODULES = ["accounts.demo", "knowledge_base.demo", "tickets.demo", "chat.demo"]


class Command(BaseCommand):
    help = "Load demo franchises, users, articles, tickets and a chat. Running it twice changes nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default="demo1234", help="password of every demo user")

    def handle(self, *args, password: str, verbosity: int = 1, **options) -> None:
        logins: list[tuple[str, str]] = []
        progress = self.stdout if verbosity >= 2 else io.StringIO()
        mail = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": DEMO_MAIL_DIR}
        # Only the console default is redirected: a configured EMAIL_URL (SMTP…) is left alone.
        redirect = settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"
        if verbosity < 2:
            logging.disable(logging.INFO)  # the e-mail tasks log a line per message
        try:
            self._seed(password, progress, logins, override_settings(**mail) if redirect else contextlib.nullcontext())
        finally:
            logging.disable(logging.NOTSET)
        if verbosity < 1:
            return
        if redirect and DEMO_MAIL_DIR.is_dir():
            self.stdout.write(f"Demo e-mails: {DEMO_MAIL_DIR}")
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password: {password}):"))
        for username, role in logins:
            self.stdout.write(f"  {username:<15} {role}")

    def _seed(self, password: str, progress, logins: list, mail_settings) -> None:
        with mail_settings, transaction.atomic():
            for module_name in DEMO_MODULES:
                try:
                    module = import_module(module_name)
                except ModuleNotFoundError as exc:
                    if exc.name != module_name:
                        raise
                    continue
                logins += module.seed(password=password, stdout=progress) or []
