"""Franchises and users with a role: franchisee, agent or supervisor."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Franchise(models.Model):
    name = models.CharField(_("nombre"), max_length=120)
    code = models.SlugField(_("código"), max_length=32, unique=True)
    active = models.BooleanField(_("activa"), default=True)
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
