"""Live chat: conversations between a franchisee and an agent, their messages and read markers."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from support_portal.stored_text import render

TOPIC_MAX = 200
BODY_MAX = 4000
CLIENT_ID_MAX = 64
CLIP = "📎"


class Conversation(models.Model):
    class Status(models.TextChoices):
        WAITING = "waiting", pgettext_lazy("chat", "En espera")  # waiting for an agent, not "on hold"
        ACTIVE = "active", _("Activa")
        CLOSED = "closed", _("Cerrada")

    franchise = models.ForeignKey(
        "accounts.Franchise", verbose_name=_("franquicia"), on_delete=models.PROTECT, related_name="conversations"
    )
    franchisee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("franquiciado"),
        on_delete=models.PROTECT,
        related_name="chat_conversations",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agente"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_conversations_handled",
    )
    status = models.CharField(_("estado"), max_length=8, choices=Status.choices, default=Status.WAITING)
    topic = models.CharField(_("tema"), max_length=TOPIC_MAX)
    created_at = models.DateTimeField(_("creada"), default=timezone.now)
    accepted_at = models.DateTimeField(_("aceptada"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cerrada"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cerrada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_activity_at = models.DateTimeField(_("última actividad"), default=timezone.now)
    ticket = models.ForeignKey(
        "tickets.Ticket",
        verbose_name=_("ticket"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chat_conversations",
    )
    resolved_in_chat = models.BooleanField(_("resuelta en el chat"), default=False)
    rating = models.PositiveSmallIntegerField(
        _("valoración"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    rating_comment = models.TextField(_("comentario de la valoración"), max_length=1000, blank=True)

    class Meta:
        ordering = ["-last_activity_at", "-id"]
        verbose_name = _("conversación")
        verbose_name_plural = _("conversaciones")
        indexes = [
            # The agents' queue: waiting conversations, oldest first.
            models.Index(fields=["created_at"], condition=Q(status="waiting"), name="chat_queue"),
            models.Index(fields=["agent", "status", "-last_activity_at"], name="chat_agent_status"),
            models.Index(fields=["franchise", "-last_activity_at"], name="chat_franchise_recent"),
            models.Index(fields=["franchisee", "-last_activity_at"], name="chat_franchisee_recent"),
            models.Index(fields=["status", "last_activity_at"], name="chat_status_activity"),
            # The supervisors' figures over a date range (chat.figures.opened_between).
            models.Index(fields=["created_at"], name="chat_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="chat_rating_1_to_5"
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | Q(agent__isnull=False), name="chat_active_has_agent"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.topic}"

    def get_absolute_url(self) -> str:
        return f"/chat/{self.pk}/"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


def attachment_path(instance: Attachment, filename: str) -> str:
    """Storage name: never the user's file name (that is kept in `original_name`)."""
    return f"chat/{instance.conversation_id}/{filename}"


class Attachment(models.Model):
    """A file (image or PDF) sent in a chat message; images get a thumbnail (chat.attachments)."""

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversación"), on_delete=models.CASCADE, related_name="attachments"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("subido por"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file = models.FileField(_("fichero"), upload_to=attachment_path, max_length=255)
    thumbnail = models.FileField(_("miniatura"), upload_to=attachment_path, max_length=255, blank=True)
    original_name = models.CharField(_("nombre"), max_length=150)
    content_type = models.CharField(_("tipo"), max_length=100)
    size = models.PositiveIntegerField(_("tamaño"))
    created_at = models.DateTimeField(_("subido"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("adjunto del chat")
        verbose_name_plural = _("adjuntos del chat")

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return f"/chat/{self.conversation_id}/attachments/{self.pk}/"

    def get_thumbnail_url(self) -> str | None:
        return f"/chat/{self.conversation_id}/attachments/{self.pk}/thumbnail/" if self.thumbnail else None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def caption_placeholder(self) -> str:
        """The body of a message sent without a caption (the transcript names the file)."""
        return f"{CLIP} {self.original_name}"


class Message(models.Model):
    class Kind(models.TextChoices):
        USER = "user", _("Usuario")
        SYSTEM = "system", _("Sistema")

    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversación"), on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("autor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="chat_messages",
    )
    kind = models.CharField(_("tipo"), max_length=8, choices=Kind.choices, default=Kind.USER)
    body = models.TextField(_("texto"), max_length=BODY_MAX)
    # System messages: the stored text (support_portal.stored_text), rendered per reader; `body`
    # keeps its portal-language rendering (and is all that rows written before it have).
    body_text = models.JSONField(_("texto guardado"), default=dict, blank=True)
    # Chosen by the sending client; a retry with the same id returns the stored message.
    client_id = models.CharField(_("id del cliente"), max_length=CLIENT_ID_MAX, blank=True)
    created_at = models.DateTimeField(_("enviado"), default=timezone.now)
    attachment = models.OneToOneField(
        Attachment,
        verbose_name=_("adjunto"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="message",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("mensaje")
        verbose_name_plural = _("mensajes")
        indexes = [models.Index(fields=["conversation", "id"], name="chat_message_history")]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "author", "client_id"],
                condition=~Q(client_id=""),
                name="chat_message_client_id_once",
            ),
            models.CheckConstraint(
                condition=Q(kind="system") | Q(author__isnull=False), name="chat_user_message_has_author"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}/{self.pk}"

    @property
    def shown_body(self) -> str:
        """The body in the active language (system messages are stored texts)."""
        return render(self.body_text) if self.body_text else self.body


class ReadMarker(models.Model):
    """How far one participant has read a conversation (ids only grow)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="read_markers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_read_markers")
    last_read_message_id = models.PositiveBigIntegerField(_("último mensaje leído"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("marca de lectura")
        verbose_name_plural = _("marcas de lectura")
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="chat_one_marker_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.conversation_id}: {self.last_read_message_id}"


class AgentAvailability(models.Model):
    """An agent's chosen chat status and how many active chats routing may give them.

    Online is not stored here: it is presence (an open socket, chat.presence). An agent without
    a row is away with the default capacity.
    """

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Disponible")
        AWAY = "away", _("Ausente")

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agente"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="chat_availability",
    )
    status = models.CharField(_("estado"), max_length=10, choices=Status.choices, default=Status.AWAY)
    chat_capacity = models.PositiveSmallIntegerField(
        _("capacidad de chats"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("Chats activos a la vez que se le asignan automáticamente (vacío: CHAT_DEFAULT_CAPACITY)."),
    )
    changed_at = models.DateTimeField(_("cambiado"), default=timezone.now)

    class Meta:
        verbose_name = _("disponibilidad de agente")
        verbose_name_plural = _("disponibilidad de agentes")
        indexes = [models.Index(fields=["status"], name="chat_agent_available")]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.status}"

    @property
    def capacity(self) -> int:
        return self.chat_capacity or default_capacity()


def default_capacity() -> int:
    return int(getattr(settings, "CHAT_DEFAULT_CAPACITY", 3))
