"""Ids beyond the database range are a 404 on every route, and a bad `next` never breaks a redirect."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter

from support_portal.converters import ID_MAX, IdConverter
from support_portal.routing import websocket_urlpatterns
from tests.tickets_factories import make_ticket, png

HUGE = "99999999999999999999999"


def _patterns(patterns=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            yield pattern


def test_no_route_uses_the_unbounded_int_converter():
    offenders = [
        str(p.pattern)
        for p in [*_patterns(), *websocket_urlpatterns]
        if any(isinstance(c, IntConverter) for c in getattr(p.pattern, "converters", {}).values())
    ]
    assert not offenders, f"use <id:…> (support_portal/converters.py), not <int:…>: {offenders}"


@pytest.mark.parametrize("value", [str(ID_MAX + 1), HUGE, "1" + "0" * 19])
def test_out_of_range_ids_do_not_match(value):
    with pytest.raises(ValueError):
        IdConverter().to_python(value)
    assert IdConverter().to_python(str(ID_MAX)) == ID_MAX


@pytest.mark.django_db
@pytest.mark.parametrize(
    "template",
    [
        "/tickets/{huge}/attachments/{attachment}/",
        "/tickets/{ticket}/attachments/{huge}/",
        "/tickets/{huge}/",
        "/chat/{huge}/",
        "/kb/some-slug/history/{huge}/",
    ],
)
def test_huge_ids_are_404(template, franchisee, franchisee_client, agent_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    ticket = make_ticket(franchisee, attachments=[png()])
    url = template.format(huge=HUGE, ticket=ticket.pk, attachment=ticket.attachments.first().pk)
    for client in (franchisee_client, agent_client):
        client.raise_request_exception = False
        assert client.get(url).status_code == 404, url


@pytest.mark.django_db
@pytest.mark.parametrize("next_value", ["hola", "javascript:alert(1)", "//evil.example/", "https://evil.example/", ""])
def test_notification_read_with_a_bad_next_redirects_to_the_list(next_value, franchisee, franchisee_client):
    from notifications.services import notify

    notification = notify(recipient=franchisee, kind="ticket_status", title="x", url="/tickets/")
    franchisee_client.raise_request_exception = False
    for url in (f"/notifications/{notification.pk}/read/", "/notifications/read-all/"):
        response = franchisee_client.post(url, {"next": next_value})
        assert response.status_code == 302, (url, next_value, response.status_code)
        assert response["Location"] == "/notifications/", response["Location"]


@pytest.mark.django_db
def test_a_local_next_is_kept(franchisee_client):
    response = franchisee_client.post("/notifications/read-all/", {"next": "/tickets/?status=open"})
    assert response["Location"] == "/tickets/?status=open"


@pytest.mark.django_db
def test_ticket_action_with_a_bare_word_next_goes_back_to_the_ticket(franchisee, agent_client):
    ticket = make_ticket(franchisee)
    agent_client.raise_request_exception = False
    response = agent_client.post(f"/tickets/{ticket.pk}/claim/", {"next": "hola"})
    assert response.status_code == 302 and response["Location"] == ticket.get_absolute_url()
    response = agent_client.post("/tickets/bulk/", {"next": "hola", "action": "claim", "tickets": [ticket.pk]})
    assert response.status_code == 302 and response["Location"] == "/agent/"
