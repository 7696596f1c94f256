"""Forms of the ticket pages (field names are part of the HTTP contract)."""

from __future__ import annotations

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Franchise, User
from support_portal.text import VisibleCharField
from tickets import custom_fields as cf
from tickets.attachments import ALLOWED, MAX_FILES, validate_uploads
from tickets.ids import parse_id
from tickets.models import COMMENT_MAX, DESCRIPTION_MAX, SUBJECT_MAX, TIME_SPENT_MAX, Category, Priority, Status


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; each is checked for size, extension and content."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(f".{e}" for e in sorted(ALLOWED))}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        files = [single(item, initial) for item in data] if isinstance(data, list | tuple) else [single(data, initial)]
        files = [f for f in files if f]
        validate_uploads(files)
        return files


FILES_HELP = lazy(
    lambda: gettext("Hasta %(n)d ficheros (imágenes, PDF, texto, ZIP, DOCX, XLSX).") % {"n": MAX_FILES}, str
)()


class TicketForm(forms.Form):
    subject = VisibleCharField(label=_("Asunto"), max_length=SUBJECT_MAX)
    description = VisibleCharField(
        label=_("Descripción"),
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Puedes usar Markdown."),
    )
    category = forms.ModelChoiceField(
        label=_("Categoría"), queryset=Category.objects.filter(active=True), required=False
    )
    priority = forms.ChoiceField(
        label=_("Prioridad"), choices=Priority.choices, initial=Priority.NORMAL, required=False
    )
    files = MultipleFileField(label=_("Adjuntos"), help_text=FILES_HELP)

    def __init__(self, *args, for_agent: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["subject"].widget.attrs.update(
            {"data-kb-suggest": "", "data-kb-results": "#kb-suggestions", "autocomplete": "off"}
        )
        if for_agent:
            self.fields["franchise"] = forms.ModelChoiceField(
                label=_("Franquicia"), queryset=Franchise.objects.filter(active=True)
            )
            self.fields["requester"] = forms.ModelChoiceField(
                label=_("Solicitante"),
                queryset=User.objects.filter(role=User.Role.FRANCHISEE, is_active=True).order_by("username"),
                required=False,
            )

        # every category's custom fields (`cf_<id>`); only the chosen category's are validated
        self.custom_groups: list[tuple[int, list[str]]] = []
        self._custom_fields: dict[str, object] = {}
        chosen = parse_id(str(self.data.get("category", ""))) if self.is_bound else None
        self._fields_by_category = cf.fields_by_category()
        for category_id, fields in self._fields_by_category.items():
            names = []
            for field in fields:
                name = cf.input_name(field)
                self.fields[name] = cf.form_field(field, required=False)
                if self.is_bound and category_id != chosen:  # another category's: kept as typed, unchecked
                    self.fields[name] = forms.CharField(
                        label=field.label, required=False, widget=self.fields[name].widget, help_text=field.help_text
                    )
                self.fields[name].custom_required = field.required  # the label's "*" (checked in clean)
                self._custom_fields[name] = field
                names.append(name)
            self.custom_groups.append((category_id, names))

    def standard_fields(self):
        return [self[name] for name in self.fields if name not in self._custom_fields]

    def custom_field_groups(self):
        """(category id, category name, bound fields) for the template's fieldsets."""
        names = {c.pk: c.display_name for c in Category.objects.filter(pk__in=[pk for pk, _n in self.custom_groups])}
        return [(pk, names.get(pk, ""), [self[n] for n in fields]) for pk, fields in self.custom_groups]

    def clean_priority(self) -> str:
        return self.cleaned_data.get("priority") or Priority.NORMAL

    def clean(self):
        data = super().clean()
        category = data.get("category")
        raw = {}
        for name, field in self._custom_fields.items():
            if category is not None and field.category_id == category.pk:
                raw[field.key] = self.data.get(name, "")
        try:
            # the fields read above (active fields of active categories): no second query
            known = self._fields_by_category.get(category.pk, []) if category is not None else None
            values = cf.validate(category, raw, fields=known)
            data["custom_values"] = {field.key: value for field, value in values.items()}
        except forms.ValidationError as exc:
            by_key = {
                f.key: name for name, f in self._custom_fields.items() if category and f.category_id == category.pk
            }
            for key, messages in exc.message_dict.items():
                self.add_error(by_key.get(key), messages)
        return data


class CommentForm(forms.Form):
    body = VisibleCharField(label=_("Respuesta"), max_length=COMMENT_MAX, widget=forms.Textarea(attrs={"rows": 5}))
    internal = forms.BooleanField(label=_("Nota interna (solo agentes)"), required=False)
    files = MultipleFileField(label=_("Adjuntos"), help_text=FILES_HELP)
    time_spent_minutes = forms.IntegerField(
        label=_("Tiempo dedicado (minutos)"),
        required=False,
        min_value=1,
        max_value=TIME_SPENT_MAX,
        help_text=_("Opcional: el tiempo que te ha llevado esta respuesta."),
    )


class RateForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Valoración"), coerce=int, choices=[(i, str(i)) for i in range(1, 6)], widget=forms.RadioSelect
    )
    comment = forms.CharField(
        label=_("Comentario"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class BulkForm(forms.Form):
    ACTIONS = [
        ("claim", _("Tomar")),
        ("assign", _("Asignar a")),
        ("unassign", _("Devolver a la cola")),
        ("status", _("Cambiar estado a")),
    ]
    tickets = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    action = forms.ChoiceField(choices=ACTIONS)
    assignee = forms.ModelChoiceField(
        queryset=User.objects.filter(role__in=(User.Role.AGENT, User.Role.SUPERVISOR), is_active=True), required=False
    )
    status = forms.ChoiceField(choices=[("", "—"), *Status.choices], required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # ids are checked against the database by the service; accept any integer here
        self.fields["tickets"].valid_value = lambda value: parse_id(str(value)) is not None


class SavedViewForm(forms.Form):
    name = VisibleCharField(label=_("Nombre de la vista"), max_length=60)
    shared = forms.BooleanField(label=_("Compartir con todos los agentes"), required=False)
    query = forms.CharField(max_length=1000, required=False, widget=forms.HiddenInput)
