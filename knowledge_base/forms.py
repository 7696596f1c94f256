"""Forms of the agent editor and the reader's feedback."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from knowledge_base.models import BODY_MAX, COMMENT_MAX, TITLE_MAX, Article, Category
from support_portal.text import validate_visible_text


class TranslatedArticleForm(forms.ModelForm):
    """An article form with `translation`: the slug (or the address) of the same article in the
    other language (the editor's and the admin's).

    Its cleaned value is that Article or None (no translation); the services check the rest
    (different language, one article per language in a group) and link both sides.
    """

    translation = forms.CharField(
        label=_("Traducción"),
        max_length=TITLE_MAX + 10,
        required=False,
        help_text=_("Slug o dirección del mismo artículo en el otro idioma; vacío: sin traducción."),
    )

    class Meta:
        model = Article
        fields = ["language"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            current = self.instance.translations().order_by("language").first()
            self.fields["translation"].initial = current.slug if current else ""

    def clean_translation(self) -> Article | None:
        value = (self.cleaned_data.get("translation") or "").strip().rstrip("/")
        if not value:
            return None
        slug = value.rsplit("/", 1)[-1]
        found = Article.objects.filter(slug=slug).exclude(status=Article.Status.ARCHIVED).first()
        if found is None:
            raise forms.ValidationError(_("No hay ningún artículo con ese slug."))
        if found.pk == self.instance.pk:
            raise forms.ValidationError(_("Un artículo no puede ser su propia traducción."))
        language = self.data.get(self.add_prefix("language")) or self.instance.language
        if found.language == language:
            raise forms.ValidationError(_("La traducción tiene que estar en otro idioma."))
        taken = found.translations().filter(language=language).exclude(pk=self.instance.pk).first()
        if taken is not None:
            raise forms.ValidationError(
                _("«%(other)s» ya tiene su traducción en este idioma: «%(title)s».")
                % {"other": found.title, "title": taken.title}
            )
        return found


class ArticleForm(TranslatedArticleForm):
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
        self.order_fields(["title", "summary", "body", "category", "tags", "language", "translation"])

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
