"""makemessages that also extracts stored texts (support_portal.stored_text)."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    # stored("…", **params) and pstored("context", "…", **params) hold source strings too.
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=stored:1", "--keyword=pstored:1c,2"]
