"""The one ingestion service behind `manage.py ingest_email` (MTA pipe) and the IMAP poller.

`ingest(raw)` returns an Outcome whose `code` is a sysexits code: 0 accepted (or ignored: mail
loops and duplicates store nothing and must not bounce), 65 unparsable or unacceptable
content, 67 unknown / unauthorised sender or bad token, 75 temporary failure. Nothing is
stored unless the code is 0 and `stored` is true.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.access import is_franchisee
from accounts.models import User
from mail import parsing, replies
from mail.addresses import BadToken, classify_recipient, read_token
from mail.models import InboundMessage
from support_portal.throttle import RateLimited
from tickets import audit
from tickets import services as tickets
from tickets.models import COMMENT_MAX, DESCRIPTION_MAX, SUBJECT_MAX, Source, Status, Ticket

logger = logging.getLogger("mail.inbound")

OK, DATAERR, NOUSER, TEMPFAIL = os.EX_OK, os.EX_DATAERR, os.EX_NOUSER, os.EX_TEMPFAIL


@dataclass
class Outcome:
    code: int
    reason: str
    stored: bool = False
    ticket: Ticket | None = None
    ignored: bool = False  # a mail loop (auto-reply, bounce): exit 0 so the MTA sends no bounce


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def ingest(raw: bytes, *, channel: str = InboundMessage.Channel.PIPE) -> Outcome:
    """Turn one RFC 5322 message into a comment or a ticket; see the module docstring for codes."""
    with audit.via("email"):  # every ticket change of this message is "by e-mail" in the timeline
        outcome = _ingest(raw, channel)
    log = logger.info if outcome.code == OK else logger.warning
    log("inbound e-mail (%s): exit %s, %s", channel, outcome.code, outcome.reason)
    return outcome


def _ingest(raw: bytes, channel: str) -> Outcome:
    if len(raw) > settings.INBOUND_EMAIL_MAX_BYTES:
        return Outcome(DATAERR, f"message too large ({len(raw)} bytes > {settings.INBOUND_EMAIL_MAX_BYTES})")
    try:
        mail = parsing.parse(raw)
    except parsing.Unparsable as exc:
        return Outcome(DATAERR, f"unparsable: {exc}")
    except Exception as exc:  # noqa: BLE001 - the email package can trip on any malformed input
        logger.warning("inbound e-mail: parser error %s: %s", type(exc).__name__, exc)
        return Outcome(DATAERR, f"unparsable: {type(exc).__name__}")
    if mail.loop_reason:
        return Outcome(OK, f"ignored, mail loop ({mail.loop_reason}) from {mail.sender}", ignored=True)
    try:
        with transaction.atomic():
            if InboundMessage.objects.filter(key=mail.key).exists():
                return Outcome(OK, f"already processed ({mail.message_id or mail.key})")
            record = InboundMessage.objects.create(
                key=mail.key,
                message_id=mail.message_id,
                sender=mail.sender,
                kind=InboundMessage.Kind.NEW,
                channel=channel,
            )
            outcome = _route(mail, record)
    except Refused as exc:
        return Outcome(exc.code, exc.reason)
    except ValidationError as exc:
        return Outcome(DATAERR, "refused content: " + "; ".join(exc.messages))
    except tickets.TicketError as exc:
        return Outcome(NOUSER, f"not allowed: {exc}")
    except RateLimited as exc:  # the sender's creation limit: the MTA retries later
        return Outcome(TEMPFAIL, f"rate limited: retry in {exc.retry_after} s")
    except IntegrityError:
        if InboundMessage.objects.filter(key=mail.key).exists():
            return Outcome(OK, f"already processed ({mail.message_id or mail.key})")
        logger.exception("inbound e-mail: integrity error")
        return Outcome(TEMPFAIL, "temporary failure (database integrity error)")
    except (DatabaseError, OSError) as exc:
        logger.exception("inbound e-mail: temporary failure")
        return Outcome(TEMPFAIL, f"temporary failure: {type(exc).__name__}")
    except Exception as exc:  # never lose a message to a bug: the MTA retries, the log has the trace
        logger.exception("inbound e-mail: unexpected error")
        return Outcome(TEMPFAIL, f"temporary failure (unexpected {type(exc).__name__})")
    return outcome


def _route(mail: parsing.ParsedMail, record: InboundMessage) -> Outcome:
    tokens = [kind for kind in map(classify_recipient, mail.recipients) if kind and kind != "support"]
    if tokens:
        return _reply(mail, record, tokens[0])
    if "support" in map(classify_recipient, mail.recipients):
        return _new_ticket(mail, record)
    raise Refused(NOUSER, f"not addressed to {settings.SUPPORT_EMAIL} or a reply address")


def _user_for(user_id: int | None, sender: str) -> User:
    users = User.objects.filter(email__iexact=sender, is_active=True)
    if user_id is not None:
        users = users.filter(pk=user_id)
    found = list(users[:2])
    if len(found) != 1:
        raise Refused(
            NOUSER,
            f"unknown or ambiguous sender {sender}"
            if user_id is None
            else f"sender {sender} is not the recipient of this reply address",
        )
    return found[0]


def _reply(mail: parsing.ParsedMail, record: InboundMessage, token: str) -> Outcome:
    try:
        parsed = read_token(token)
    except (BadToken, ValueError) as exc:
        raise Refused(NOUSER, f"bad reply address: {exc}") from exc
    user = _user_for(parsed.user_id, mail.sender)
    ticket = Ticket.objects.filter(pk=parsed.ticket_id).first()
    for _hop in range(5):  # a merged ticket carries on in the ticket it was merged into
        if ticket is None or ticket.merged_into_id is None:
            break
        ticket = ticket.merged_into
    if ticket is None:
        raise Refused(NOUSER, "the ticket of this reply address no longer exists")
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        body = _body(replies.reply_text(mail.text), mail, COMMENT_MAX)
        record.user = user
        if ticket.status == Status.CLOSED:
            follow_up = tickets.follow_up(
                ticket=ticket,
                actor=user,
                body=body,
                attachments=mail.attachments,
                subject=(mail.subject or ticket.subject)[:SUBJECT_MAX],
                source=Source.EMAIL,
            )
            record.kind, record.ticket = InboundMessage.Kind.FOLLOW_UP, follow_up
            record.save(update_fields=["kind", "ticket", "user"])
            return Outcome(OK, f"follow-up {follow_up.number} of closed {ticket.number}", True, follow_up)
        comment = tickets.add_comment(ticket=ticket, actor=user, body=body, attachments=mail.attachments)
    record.kind, record.ticket, record.comment = InboundMessage.Kind.REPLY, ticket, comment
    record.save(update_fields=["kind", "ticket", "comment", "user"])
    return Outcome(OK, f"comment {comment.pk} on {ticket.number}", True, ticket)


def _new_ticket(mail: parsing.ParsedMail, record: InboundMessage) -> Outcome:
    user = _user_for(None, mail.sender)
    if not is_franchisee(user):
        raise Refused(NOUSER, f"{mail.sender} is not a franchisee: only franchisees open tickets by e-mail")
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        ticket = tickets.create_ticket(
            actor=user,
            subject=(mail.subject or _("(sin asunto)"))[:SUBJECT_MAX],
            description=_body(mail.text.strip(), mail, DESCRIPTION_MAX),
            source=Source.EMAIL,
            attachments=mail.attachments,
        )
    record.kind, record.ticket, record.user = InboundMessage.Kind.NEW, ticket, user
    record.save(update_fields=["kind", "ticket", "user"])
    return Outcome(OK, f"new ticket {ticket.number}", True, ticket)


def _body(text: str, mail: parsing.ParsedMail, limit: int) -> str:
    if not text and mail.attachments:
        text = _("(Sin texto: ver los adjuntos)")
    if not text:
        raise Refused(DATAERR, "empty message (no text above the quoted part, no attachments)")
    return text[:limit]
