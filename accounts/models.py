"""Franchises and users with a role: franchisee, agent or supervisor."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


class Franchise(models.Model):
    name = models.CharField(_("nombre"), max_length=120)
    code = models.SlugField(_("código"), max_length=32, unique=True)
    active = models.BooleanField(_("activa"), default=True)
    # Its members' default time zone (the Canary Islands are an hour behind the mainland).
    time_zone = models.CharField(_("zona horaria"), max_length=64, default="Europe/Madrid")
    created_at = models.DateTimeField(_("creada"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("franquicia")
        verbose_name_plural = _("franquicias")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        FRANCHISEE = "franchisee", _("Franquiciado")
        AGENT = "agent", _("Agente de soporte")
        SUPERVISOR = "supervisor", _("Supervisor")

    role = models.CharField(_("rol"), max_length=16, choices=Role.choices, default=Role.FRANCHISEE)
    franchise = models.ForeignKey(
        Franchise,
        verbose_name=_("franquicia"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
    )
    preferred_language = models.CharField(
        _("idioma preferido"), max_length=8, choices=[("es", "Español"), ("en", "English")], default="es"
    )
    # Empty: the franchise's (support staff: the portal's). Guessed from the browser at first login.
    time_zone = models.CharField(_("zona horaria"), max_length=64, blank=True)
    # Raised by "log out everywhere else": every session made before it stops authenticating
    # (it is part of the session auth hash, like the password), whether or not it is listed.
    session_epoch = models.PositiveIntegerField(_("época de sesión"), default=0, editable=False)

    class Meta:
        verbose_name = _("usuario")
        verbose_name_plural = _("usuarios")
        constraints = [
            # A franchisee belongs to exactly one franchise; support staff to none.
            models.CheckConstraint(
                condition=(
                    Q(role="franchisee", franchise__isnull=False) | ~Q(role="franchisee") & Q(franchise__isnull=True)
                ),
                name="user_franchise_matches_role",
            )
        ]
        indexes = [models.Index(fields=["role", "is_active"])]

    def get_session_auth_hash(self) -> str:
        return self._with_epoch(super().get_session_auth_hash())

    def get_session_auth_fallback_hash(self):
        for value in super().get_session_auth_fallback_hash():
            yield self._with_epoch(value)

    def _with_epoch(self, value: str) -> str:
        """Epoch 0 keeps Django's own hash (sessions made before this field existed stay valid)."""
        if not self.session_epoch:
            return value
        salt = "accounts.User.session_epoch"
        return salted_hmac(salt, f"{value}:{self.session_epoch}", algorithm="sha256").hexdigest()

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_support_staff(self) -> bool:
        return self.role in (self.Role.AGENT, self.Role.SUPERVISOR)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        super().clean()
        if self.role == self.Role.FRANCHISEE and self.franchise_id is None:
            raise ValidationError({"franchise": _("Un franquiciado debe pertenecer a una franquicia.")})
        if self.role != self.Role.FRANCHISEE and self.franchise_id is not None:
            raise ValidationError({"franchise": _("El personal de soporte no pertenece a ninguna franquicia.")})


class LoginSession(models.Model):
    """One signed-in session of a user (recorded at login), for the profile's list of devices.

    Only a listing: whether a session still authenticates is decided by Django's session store
    and the session auth hash (accounts.socket_auth.session_holds), never by this row.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("sesión iniciada")
        verbose_name_plural = _("sesiones iniciadas")

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M}"


class AccountEvent(models.Model):
    """The audit trail of a user's account: self-service changes and security events (who, what,
    from where). Written only by accounts.services; shown on the profile and in the admin."""

    class Kind(models.TextChoices):
        PROFILE_UPDATED = "profile_updated", _("Datos personales cambiados")
        EMAIL_CHANGED = "email_changed", _("Correo electrónico cambiado")
        PASSWORD_CHANGED = "password_changed", _("Contraseña cambiada")
        PASSWORD_RESET_REQUESTED = "password_reset_requested", _("Restablecimiento de contraseña solicitado")
        PASSWORD_RESET = "password_reset", _("Contraseña restablecida por correo")
        SESSIONS_ENDED = "sessions_ended", _("Sesiones cerradas en otros dispositivos")
        ALL_SESSIONS_ENDED = "all_sessions_ended", _("Sesiones cerradas en todos los dispositivos")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_events")
    kind = models.CharField(_("tipo"), max_length=32, choices=Kind.choices)
    # Parameters of the event (changed field names, the old address masked, counts): never secrets.
    data = models.JSONField(_("datos"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("evento de la cuenta")
        verbose_name_plural = _("eventos de la cuenta")
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"
