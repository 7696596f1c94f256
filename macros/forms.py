from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from macros.models import BODY_MAX, Macro


class MacroForm(forms.ModelForm):
    shared = forms.BooleanField(label=_("Compartida con todo el equipo"), required=False)

    class Meta:
        model = Macro
        fields = ["name", "body", "set_status", "set_priority", "assign_to_self", "assignee"]
        widgets = {"body": forms.Textarea(attrs={"rows": 6, "maxlength": BODY_MAX})}

    def __init__(self, *args, can_share: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = User.objects.filter(
            is_active=True, role__in=("agent", "supervisor")
        ).order_by("first_name", "username")
        if not can_share:
            del self.fields["shared"]
        elif self.instance.pk:
            self.fields["shared"].initial = self.instance.owner_id is None
            self.fields["shared"].disabled = True

    def _post_clean(self) -> None:
        # The service validates (placeholders, constraints) on save; skip the model's own pass,
        # which would check uniqueness before the owner is known.
        pass

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data}
