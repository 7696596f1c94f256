"""Forms of the agent editor and the reader's feedback."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from knowledge_base.models import BODY_MAX, COMMENT_MAX, Article, Category
from support_portal.text import validate_visible_text


class ArticleForm(forms.ModelForm):
    status = forms.ChoiceField(label=_("Estado"), choices=Article.Status.choices)
    note = forms.CharField(label=_("Nota de la revisión"), max_length=200, required=False)

    class Meta:
        model = Article
        fields = ["title", "summary", "body", "category", "tags", "language", "owner", "review_interval_days"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 18, "data-kb-editor": "", "maxlength": BODY_MAX}),
            "summary": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.order_by("position", "name")
        self.fields["owner"].queryset = User.objects.filter(role__in=("agent", "supervisor"), is_active=True).order_by(
            "username"
        )
        for name in ("title", "body"):  # the required text fields
            self.fields[name].validators.append(validate_visible_text)
        if self.instance.pk:
            self.fields["status"].initial = self.instance.status

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("note", None)
        data.pop("status", None)
        return data


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        label=_("¿Te ha resultado útil?"),
        choices=[("yes", _("Sí")), ("no", _("No"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comentario (opcional)"),
        max_length=COMMENT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class CategoryFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=2000)
    category = forms.SlugField(required=False, max_length=120)
