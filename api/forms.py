from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import TOKEN_NAME_MAX, WebhookEvent


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Nombre del token"), max_length=TOKEN_NAME_MAX, required=False)


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    description = forms.CharField(label=_("Descripción"), max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label=_("Eventos"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )
