"""`manage.py create_api_token USERNAME [--name N]`: the new key is the last word of the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from api.tokens import create_token


class Command(BaseCommand):
    help = "Create a personal API token for USERNAME and print its key (shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="manage.py create_api_token")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            token, key = create_token(user=user, name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(f"Token {token.name!r} for {user.username} (starts with {token.token_key}).")
        self.stdout.write(f"Key: {key}")
