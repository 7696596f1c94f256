"""Language and time zone of each reader: the switcher, the profile, the browser's guess, every time."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone, translation

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Message
from support_portal.times import format_datetime, iso_instant, time_zone_of, zone_name_of
from tests.conftest import PASSWORD
from tests.tickets_factories import make_ticket
from tickets.models import Event

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
NOON_UTC = datetime(2026, 12, 2, 12, 5, 30, 123456, tzinfo=UTC)  # winter: Madrid 13:05, Canarias 12:05


def test_the_switcher_saves_the_preferred_language(franchisee, franchisee_client):
    response = franchisee_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    franchisee.refresh_from_db()
    assert franchisee.preferred_language == "en"  # e-mails and pushes follow it
    assert 'lang="en"' in franchisee_client.get("/").content.decode()


def test_the_switcher_still_works_signed_out():
    response = Client().post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_the_profile_saves_language_and_time_zone(franchisee, franchisee_client):
    page = franchisee_client.get("/accounts/profile/").content.decode()
    assert 'name="time_zone"' in page and "Atlantic/Canary" in page
    response = franchisee_client.post("/accounts/profile/locale/", {"language": "en", "time_zone": "Atlantic/Canary"})
    assert response.status_code == 302
    franchisee.refresh_from_db()
    assert (franchisee.preferred_language, franchisee.time_zone) == ("en", "Atlantic/Canary")
    franchisee_client.post("/accounts/profile/locale/", {"language": "es", "time_zone": "Mars/Olympus"})
    franchisee.refresh_from_db()
    assert franchisee.time_zone == "Atlantic/Canary"  # an unknown zone is refused


def test_the_zone_defaults_from_the_franchise_and_the_user_overrides_it(franchisee, centro):
    assert zone_name_of(franchisee) == "Europe/Madrid"
    centro.time_zone = "Atlantic/Canary"
    centro.save()
    franchisee.refresh_from_db()
    assert zone_name_of(franchisee) == "Atlantic/Canary"
    franchisee.time_zone = "Europe/Madrid"
    assert zone_name_of(franchisee) == "Europe/Madrid"


def test_the_browser_guesses_the_zone_once_after_the_first_login(franchisee):
    client = Client()
    client.post("/accounts/login/", {"username": franchisee.username, "password": PASSWORD})
    home = client.get("/").content.decode()
    assert 'data-time-zone-guess="/accounts/profile/time-zone-guess/"' in home
    assert client.post("/accounts/profile/time-zone-guess/", {"time_zone": "Atlantic/Canary"}).status_code == 204
    franchisee.refresh_from_db()
    assert franchisee.time_zone == "Atlantic/Canary"
    assert "data-time-zone-guess" not in client.get("/").content.decode()
    client.post("/accounts/profile/time-zone-guess/", {"time_zone": "Asia/Tokyo"})  # asked once only
    franchisee.refresh_from_db()
    assert franchisee.time_zone == "Atlantic/Canary"


def test_a_guess_equal_to_the_franchise_zone_keeps_following_the_franchise(franchisee):
    client = Client()
    client.post("/accounts/login/", {"username": franchisee.username, "password": PASSWORD})
    client.post("/accounts/profile/time-zone-guess/", {"time_zone": "Europe/Madrid"})
    franchisee.refresh_from_db()
    assert franchisee.time_zone == ""


def _timeline_time(client: Client, ticket) -> tuple[str, str]:
    page = client.get(f"/tickets/{ticket.pk}/").content.decode()
    match = re.search(
        r'<li class="event event-created[^>]*>.*?<time datetime="([^"]+)"[^>]*>([^<]+)</time>', page, re.S
    )
    assert match, page
    return match.group(1), match.group(2)


def test_pages_show_times_in_the_reader_zone_canarias_vs_madrid(franchisee, agent, agent_client, centro):
    ticket = make_ticket(franchisee)
    Event.objects.filter(ticket=ticket).update(created_at=NOON_UTC)
    agent_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    stamp, madrid = _timeline_time(agent_client, ticket)
    assert madrid == "02/12/2026 13:05"  # English, day first, 24 h: no US order
    assert stamp == "2026-12-02T12:05:30Z"  # a valid <time datetime>: UTC, no microseconds
    centro.time_zone = "Atlantic/Canary"
    centro.save()
    owner = Client()
    owner.force_login(franchisee)
    assert _timeline_time(owner, ticket)[1] == "02/12/2026 12:05"


def test_one_python_helper_formats_every_time():
    with translation.override("en"):
        assert format_datetime(NOON_UTC, zone=zoneinfo.ZoneInfo("Atlantic/Canary")) == "02/12/2026 12:05"
        assert format_datetime(NOON_UTC, "time", zone=zoneinfo.ZoneInfo("Europe/Madrid")) == "13:05"
    with translation.override("es"), timezone.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        assert format_datetime(NOON_UTC, "date") == "02/12/2026"
    assert iso_instant(NOON_UTC) == "2026-12-02T12:05:30Z"


def test_the_chat_transcript_is_in_the_requester_zone(franchisee, agent, centro):
    centro.time_zone = "Atlantic/Canary"
    centro.save()
    franchisee.refresh_from_db()
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="TPV")
    Message.objects.filter(conversation=conversation).update(created_at=NOON_UTC)
    assert "[02/12/2026 12:05]" in chat_selectors.transcript(conversation, franchisee)
    assert time_zone_of(franchisee).key == "Atlantic/Canary"


def test_the_email_uses_the_recipient_zone_and_language(franchisee, agent):
    from notifications.models import Notification
    from notifications.tasks import build_email
    from support_portal.stored_text import stored, when

    franchisee.preferred_language = "en"
    franchisee.time_zone = "Atlantic/Canary"
    franchisee.email = "fran@example.com"
    franchisee.save()
    notification = Notification.objects.create(
        recipient=franchisee,
        kind="ticket_status",
        title="x",
        title_text=stored("Revisión prevista el %(date)s.", date=when(NOON_UTC)),
    )
    assert "Review due on 02/12/2026 12:05." in build_email(notification).subject


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "input":
            self.inputs.append(dict(attrs))


def test_the_kb_search_placeholder_stays_inside_its_attribute(franchisee_client):
    franchisee_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    parser = _Attributes()
    parser.feed(franchisee_client.get("/kb/").content.decode())
    box = next(i for i in parser.inputs if i.get("id") == "kb-q")
    assert box["placeholder"] == "Describe your problem, e.g. “card terminal does not print”"
    assert set(box) >= {"data-kb-suggest", "data-kb-results"}  # nothing after it was cut off


def test_no_template_puts_an_unescaped_translation_in_an_attribute():
    """`{% translate %}` output is not escaped: attributes use `{{ _("…") }}` (escaped) instead."""
    offenders = []
    for template in [*ROOT.glob("*/templates/**/*.html"), *ROOT.glob("templates/**/*.html")]:
        if ".venv" in template.parts:
            continue
        for attribute in re.findall(r'\s[\w:-]+="[^"]*"', template.read_text()):
            if re.search(r"\{% (translate|trans) ", attribute) and " as t_attr" not in attribute:
                offenders.append(f"{template.relative_to(ROOT)}: {attribute.strip()}")
    assert offenders == []


def test_no_english_translation_holds_a_straight_double_quote():
    offenders = []
    for catalogue in [*ROOT.glob("*/locale/en/LC_MESSAGES/django.po")]:
        for line in catalogue.read_text().splitlines():
            if line.startswith("msgstr") and '\\"' in line:
                offenders.append(f"{catalogue.relative_to(ROOT)}: {line}")
    assert offenders == []


def test_the_cached_team_figures_are_read_in_each_reader_language(franchisee, supervisor, settings):
    from django.core.cache import cache

    from tickets.figures import cached_team_figures

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    make_ticket(franchisee)
    with translation.override("es"):
        cached_team_figures()  # computed (and cached) by a Spanish reader first
    with translation.override("en"):
        labels = [label for _status, label, _count in cached_team_figures().open_by_status]
    assert "New" in labels and "Nuevo" not in labels
    english = Client()
    english.force_login(supervisor)
    english.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = english.get("/agent/").content.decode()
    assert ">On hold</a>" in page and ">En espera</a>" not in page


def test_a_category_reads_in_each_language(franchisee, agent):
    from tickets import services as ticket_services
    from tickets.models import Category

    category = Category.objects.create(name="Datáfono", name_en="Card terminal", slug="datafono")
    with translation.override("en"):
        assert str(category) == "Card terminal"
    with translation.override("es"):
        assert str(category) == "Datáfono"
    ticket = make_ticket(franchisee)
    ticket_services.change_category(ticket=ticket, actor=agent, category=category)
    english = Client()
    franchisee.preferred_language = "en"
    franchisee.save()
    english.force_login(franchisee)
    english.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = english.get(f"/tickets/{ticket.pk}/").content.decode()
    assert '<span class="badge">Card terminal</span>' in page
    assert "Category: Card terminal" in page  # the timeline event keeps the Spanish name; shown in English
    from notifications.models import Notification
    from support_portal.stored_text import render

    note = Notification.objects.filter(recipient=franchisee).latest("id")
    assert render(note.title_text, "en").endswith("Card terminal")
    assert render(note.title_text, "es").endswith("Datáfono")


def test_the_tickets_csv_names_categories_in_the_readers_language(franchisee, supervisor):
    import csv
    import io

    from django.utils import timezone

    from tickets.models import Category

    category = Category.objects.create(name="Datáfono", name_en="Card terminal", slug="datafono-csv")
    make_ticket(franchisee, category=category)
    today = timezone.localdate().isoformat()
    for language, name in (("es", "Datáfono"), ("en", "Card terminal")):
        client = Client()
        client.force_login(supervisor)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        response = client.get("/agent/reports/tickets.csv", {"start": today, "end": today})
        text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
        _header, row = list(csv.reader(io.StringIO(text)))[:2]
        assert name in row, (language, row)
