"""Forms of the chat pages (field names are part of DESIGN.md's contract: `topic`)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from chat.models import TOPIC_MAX
from support_portal.text import VisibleCharField


class StartForm(forms.Form):
    topic = VisibleCharField(
        label=_("¿En qué podemos ayudarte?"),
        max_length=TOPIC_MAX,
        widget=forms.TextInput(
            attrs={
                "data-kb-suggest": "",
                "data-kb-results": "#kb-suggestions",
                "autocomplete": "off",
                "placeholder": _("Ej.: el datáfono no conecta"),
            }
        ),
    )


class TransferForm(forms.Form):
    agent = forms.ModelChoiceField(label=_("Transferir a"), queryset=User.objects.none())

    def __init__(self, *args, candidates=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if candidates is not None:
            self.fields["agent"].queryset = candidates
        self.fields["agent"].label_from_instance = lambda user: user.display_name


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Valoración"),
        coerce=int,
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comentario (opcional)"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
