"""Notifications and per-user channel preferences."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from notifications.kinds import KIND_CHOICES
from support_portal.links import safe_link, validate_site_link
from support_portal.stored_text import render


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("destinatario"), on_delete=models.CASCADE, related_name="notifications"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("autor"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(_("tipo"), max_length=32, choices=KIND_CHOICES)
    title = models.CharField(_("título"), max_length=200)
    body = models.TextField(_("texto"), blank=True, max_length=2000)
    # Stored text (support_portal.stored_text): rendered in the reader's language; title/body keep
    # the portal-language rendering (admin, rows written before stored text) and are the fallback.
    title_text = models.JSONField(_("título (texto guardado)"), default=dict, blank=True)
    body_text = models.JSONField(_("texto (texto guardado)"), default=dict, blank=True)
    url = models.CharField(_("enlace"), max_length=300, blank=True, validators=[validate_site_link])
    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, null=True, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    created_at = models.DateTimeField(_("creada"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("leída"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notificación")
        verbose_name_plural = _("notificaciones")
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_recent"),
            models.Index(fields=["recipient"], condition=models.Q(read_at__isnull=True), name="notif_recipient_unread"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} · {self.title}"

    def save(self, *args, **kwargs) -> None:
        # Whatever the entry point (notify(), the admin, a shell), only a link of this site is kept.
        self.url = safe_link(self.url)
        super().save(*args, **kwargs)

    @property
    def shown_title(self) -> str:
        """The title in the active language (the stored text, else the stored string)."""
        return render(self.title_text) if self.title_text else self.title

    @property
    def shown_body(self) -> str:
        return render(self.body_text) if self.body_text else self.body

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """One row per user and kind that differs from the defaults of notifications.kinds."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(_("tipo"), max_length=32, choices=KIND_CHOICES)
    in_app = models.BooleanField(_("en el portal"), default=True)
    email = models.BooleanField(_("por correo"), default=False)

    class Meta:
        verbose_name = _("preferencia de notificación")
        verbose_name_plural = _("preferencias de notificación")
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_user_kind")]

    def __str__(self) -> str:
        return f"{self.user} · {self.kind}"
