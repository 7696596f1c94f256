"""Preferences form: two checkboxes per kind, named `<kind>-in_app` and `<kind>-email`."""

from django import forms

from notifications.selectors import PreferenceRow


class PreferencesForm(forms.Form):
    def __init__(self, *args, rows: list[PreferenceRow], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = rows
        for row in rows:
            self.fields[f"{row.kind}-in_app"] = forms.BooleanField(required=False, initial=row.in_app)
            self.fields[f"{row.kind}-email"] = forms.BooleanField(required=False, initial=row.email)

    def rows(self) -> list[tuple[PreferenceRow, forms.BoundField, forms.BoundField]]:
        return [(row, self[f"{row.kind}-in_app"], self[f"{row.kind}-email"]) for row in self.kinds]

    def choices(self) -> dict[str, tuple[bool, bool]]:
        data = self.cleaned_data
        return {row.kind: (data[f"{row.kind}-in_app"], data[f"{row.kind}-email"]) for row in self.kinds}
