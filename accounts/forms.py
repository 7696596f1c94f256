"""Forms of the user's own account: profile, password reset (Django's, in the user's language)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class ProfileForm(forms.Form):
    """Name and e-mail; accounts.services.update_profile validates and saves (unique e-mail)."""

    first_name = forms.CharField(label=_("Nombre"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Apellidos"), max_length=150, required=False)
    email = forms.EmailField(
        label=_("Correo electrónico"),
        max_length=254,
        help_text=_("Aquí te llegan los avisos y el enlace para restablecer la contraseña."),
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        initial = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["first_name"].widget.attrs["autocomplete"] = "given-name"
        self.fields["last_name"].widget.attrs["autocomplete"] = "family-name"
        self.fields["email"].widget.attrs["autocomplete"] = "email"


class PortalPasswordResetForm(PasswordResetForm):
    """Django's reset form, run by accounts.tasks.send_password_reset (never in the request): each
    e-mail in its recipient's preferred language, each sending recorded in the account's trail."""

    email = forms.EmailField(
        label=_("Correo electrónico"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )

    def __init__(self, *args, ip: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ip = ip
        self.sent = 0

    def send_mail(
        self, subject_template_name, email_template_name, context, from_email, to_email, html_email_template_name=None
    ):
        from accounts.services import record_reset_link_sent

        user = context["user"]
        with translation.override(user.preferred_language or None):
            super().send_mail(
                subject_template_name, email_template_name, context, from_email, to_email, html_email_template_name
            )
        record_reset_link_sent(user=user, ip=self.ip)
        self.sent += 1
