"""Personal API tokens (only a digest is stored) and webhook endpoints with their delivery log."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken

TOKEN_NAME_MAX = 80


class ApiToken(AbstractAuthToken):
    """A personal token of django-rest-knox with a label: `digest` (SHA-512) is all that is kept of the key.

    `token_key` is the first 15 characters of the key: not enough to authenticate, enough to
    recognise a token in the list and to revoke it.
    """

    name = models.CharField(_("nombre"), max_length=TOKEN_NAME_MAX)
    last_used_at = models.DateTimeField(_("último uso"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("token de API")
        verbose_name_plural = _("tokens de API")

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"


class WebhookEvent(models.TextChoices):
    TICKET_CREATED = "ticket.created", "ticket.created"
    TICKET_UPDATED = "ticket.updated", "ticket.updated"
    COMMENT_CREATED = "comment.created", "comment.created"
    CHAT_CLOSED = "chat.closed", "chat.closed"


#: Sent only by the "send test event" button, to every endpoint regardless of its subscriptions.
TEST_EVENT = "webhook.test"


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


class WebhookEndpoint(models.Model):
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("descripción"), max_length=200, blank=True)
    events = models.JSONField(_("eventos"), default=list)
    secret = models.CharField(_("secreto"), max_length=80, default=new_secret, editable=False)
    active = models.BooleanField(_("activo"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("creado por"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.url

    def wants(self, event: str) -> bool:
        return self.active and (event == TEST_EVENT or event in self.events)


class WebhookDelivery(models.Model):
    """One event sent to one endpoint; every HTTP try is a WebhookAttempt."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pendiente")
        RETRYING = "retrying", _("Reintentando")
        SUCCEEDED = "succeeded", _("Entregado")
        FAILED = "failed", _("Fallido")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(_("evento"), max_length=40)
    payload = models.JSONField(_("contenido"))
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    response_code = models.PositiveSmallIntegerField(_("código HTTP"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("creado"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("entregado"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("próximo intento"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("entrega de webhook")
        verbose_name_plural = _("entregas de webhook")
        indexes = [models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField(_("intento"))
    response_code = models.PositiveSmallIntegerField(_("código HTTP"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("duración (ms)"), default=0)
    created_at = models.DateTimeField(_("cuándo"), auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = _("intento de entrega")
        verbose_name_plural = _("intentos de entrega")

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}: {self.response_code or self.error}"
