"""Stored text: what the portal itself says, kept as a message id plus parameters.

Timeline notes, chat system messages, notification titles and bodies, revision notes: anything
the portal writes for people to read later is stored language-neutrally and rendered in the
*reader's* language when it is read (a page, a socket frame, an e-mail), never in the language
of whoever caused it. See docs/CONVENTIONS.md "Stored text".

Store::

    from support_portal.stored_text import stored, pstored, choice

    stored("%(name)s se ha unido al chat.", name=agent.display_name)
    pstored("chat", "En espera")                      # a translation context ("Waiting")
    stored("Estado: %(new)s", new=choice(Status.ON_HOLD))  # a choice label, translated when read
    stored("Revisión prevista el %(date)s.", date=when(article.next_review_at))  # reader's format/zone

Each returns a small JSON-able dict ``{"msgid": ..., "params": {...}}`` (plus ``"context"``) to
put in a ``JSONField``. Parameter values are plain data (text written by users, numbers — shown
as they are), other stored texts / choices (translated with the rest) or dates and times from
``when()`` (written in the reader's format and time zone, support_portal.times).

Render::

    render(value)                     # the active language (a page: the request's language)
    render(value, language="en")      # an explicit language
    render_for(value, user)           # the user's preferred language (sockets, e-mails)

``render`` also accepts a plain string (a row written before stored text existed, or user text)
and returns it unchanged, so old rows keep rendering. The result is plain text: templates escape
it as any other value.

The source strings are extracted by ``make messages``: ``support_portal``'s ``makemessages``
adds ``stored`` and ``pstored`` to xgettext's keywords.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Choices
from django.utils import translation
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from accounts.models import User

StoredText = dict[str, Any]

__all__ = [
    "StoredText",
    "choice",
    "is_stored",
    "language_of",
    "names",
    "pstored",
    "render",
    "render_for",
    "stored",
    "when",
]


def _param(value: Any) -> Any:
    if isinstance(value, Choices):
        return choice(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict) and is_stored(value):
        return value
    return str(value)  # a lazy string or a model: its text now (pass a stored text to translate it later)


def stored(msgid: str, /, **params: Any) -> StoredText:
    """A text to store: its Spanish source string and its parameters (``%(name)s`` placeholders)."""
    value: StoredText = {"msgid": str(msgid)}
    if params:
        value["params"] = {key: _param(param) for key, param in params.items()}
    return value


def pstored(context: str, msgid: str, /, **params: Any) -> StoredText:
    """Like stored(), with a translation context (``pgettext``) for a word with two meanings."""
    value = stored(msgid, **params)
    value["context"] = context
    return value


def choice(member: Choices) -> StoredText:
    """A choice (e.g. ``Status.ON_HOLD``) whose label is translated when the text is read."""
    cls = type(member)
    return {"choice": f"{cls.__module__}:{cls.__qualname__}", "value": member.value}


def _choices_class(path: str) -> type[Choices]:
    """`module:Outer.Inner` (or a dotted path to a module-level class) to the class."""
    module, _sep, qualname = path.partition(":")
    if not qualname:
        return import_string(path)
    found: Any = import_module(module)
    for name in qualname.split("."):
        found = getattr(found, name)
    return found


def when(value: date | datetime, style: str = "") -> StoredText:
    """A date or an instant, written in the reader's format (and time zone) when read.

    `style`: "datetime", "date" or "time" (default: "date" for a date, "datetime" otherwise).
    """
    style = style or ("datetime" if isinstance(value, datetime) else "date")
    return {"when": value.isoformat(), "style": style}


def names(spanish: str, english: str = "") -> StoredText:
    """A name kept in both languages (a category): the reader's, else the Spanish one."""
    return {"names": {"es": spanish, "en": english or spanish}}


def is_stored(value: Any) -> bool:
    return isinstance(value, dict) and any(key in value for key in ("msgid", "choice", "when", "names"))


def _render(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, dict):
        return str(value)
    if "names" in value:
        language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
        return str(value["names"].get(language) or value["names"].get(settings.LANGUAGE_CODE, ""))
    if "when" in value:
        from support_portal.times import format_datetime

        try:
            moment = datetime.fromisoformat(value["when"])
        except (TypeError, ValueError):
            return str(value.get("when", ""))
        style = value.get("style", "datetime")
        return format_datetime(moment.date() if style == "date" and "T" not in value["when"] else moment, style)
    if "choice" in value:
        try:
            return str(_choices_class(value["choice"])(value["value"]).label)
        except (ImportError, AttributeError, ValueError, KeyError):
            return str(value.get("value", ""))
    if "msgid" not in value:
        return ""
    msgid = str(value["msgid"])
    context = value.get("context")
    text = translation.pgettext(context, msgid) if context else translation.gettext(msgid)
    params = value.get("params")
    if not params:
        return text
    rendered = {key: _render(param) if isinstance(param, dict) else param for key, param in params.items()}
    try:
        return text % rendered
    except (KeyError, TypeError, ValueError):
        try:  # a translation that does not match the parameters: the source string still does
            return msgid % rendered
        except (KeyError, TypeError, ValueError):
            return msgid


def render(value: StoredText | str | None, language: str | None = None) -> str:
    """The text in `language` (default: the active language); a plain string is returned as it is."""
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    if language is None:
        return _render(value)
    with translation.override(language):
        return _render(value)


def language_of(user: User | None) -> str:
    """The language a user reads in: their preferred language, else the portal's."""
    language = getattr(user, "preferred_language", "") or ""
    codes = {code for code, _name in settings.LANGUAGES}
    return language if language in codes else settings.LANGUAGE_CODE


def render_for(value: StoredText | str | None, user: User | None) -> str:
    """The text in `user`'s preferred language (for socket frames and e-mails)."""
    return render(value, language_of(user))
