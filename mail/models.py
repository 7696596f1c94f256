"""Inbound e-mail accepted into the portal: one row per message, the key of idempotency."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class InboundMessage(models.Model):
    """A message that was accepted (refused messages are only logged: nothing is stored for them)."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Respuesta a un ticket")
        NEW = "new", _("Ticket nuevo")
        FOLLOW_UP = "follow_up", _("Seguimiento de un ticket cerrado")

    class Channel(models.TextChoices):
        PIPE = "pipe", _("MTA (ingest_email)")
        IMAP = "imap", _("Buzón IMAP")

    #: sha256 of the normalised Message-ID (of the raw bytes when the message has none)
    key = models.CharField(_("clave"), max_length=64, unique=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    sender = models.EmailField(_("remitente"), max_length=254)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("usuario"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices)
    channel = models.CharField(_("canal"), max_length=4, choices=Channel.choices)
    ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("ticket"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    comment = models.ForeignKey(
        "tickets.Comment", verbose_name=_("comentario"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    received_at = models.DateTimeField(_("recibido"), auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("correo entrante")
        verbose_name_plural = _("correos entrantes")

    def __str__(self) -> str:
        return f"{self.kind} {self.sender} {self.message_id}"
