"""Required text must show something: the one check behind every required text field.

A value made only of characters that render as nothing — spaces of any kind, zero-width
characters (U+200B…U+200D, U+2060, U+FEFF), bidirectional controls (U+202A…U+202E,
U+2066…U+2069), other format/control characters, lone combining marks, and the Hangul and
Braille blanks — is refused as if it were empty. Forms use `VisibleCharField` (or the
`validate_visible_text` validator); services call `has_visible_text`, so the API, e-mail and
WebSocket entry points refuse the same values.
"""

from __future__ import annotations

import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

#: Letters/symbols that are drawn as blank space although their category says otherwise.
BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")

INVISIBLE_MESSAGE = _("Escribe un texto visible: solo hay espacios o caracteres invisibles.")


def is_visible(char: str) -> bool:
    category = unicodedata.category(char)
    return not (category[0] in "CZ" or category in ("Mn", "Me") or char in BLANK_LOOKALIKES)


def has_visible_text(value: str | None) -> bool:
    """True when `value` has at least one character that is drawn."""
    return any(is_visible(char) for char in value or "")


def validate_visible_text(value: str) -> None:
    if value and not has_visible_text(value):
        raise ValidationError(INVISIBLE_MESSAGE, code="invisible")


class VisibleCharField(forms.CharField):
    """A required CharField that also refuses invisible-only text."""

    default_validators = [validate_visible_text]
