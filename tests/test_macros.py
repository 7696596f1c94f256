"""Macros: placeholder rendering, scoping, the page, the picker's search, actions and usage count."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from chat import services as chat_services
from macros import rendering, selectors, services
from macros.models import Macro, MacroUse
from notifications.models import Notification
from tests.conftest import require_env
from tests.tickets_factories import make_ticket
from tickets.models import Comment, Event, Status, Ticket


@pytest.fixture
def ticket(franchisee):
    return make_ticket(franchisee, subject="El datáfono no imprime")


@pytest.fixture
def shared(supervisor) -> Macro:
    return services.create_macro(
        actor=supervisor,
        shared=True,
        name="reinicio",
        body="Hola {{franquiciado}}, sobre {{ticket}} ({{asunto}}): reinicia el datáfono. {{agente}}",
    )


@pytest.fixture
def personal(agent2) -> Macro:
    return services.create_macro(actor=agent2, name="bea-firma", body="Un saludo, {{agente}}")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- rendering ------------------------------------------------------------------------------------


def test_render_substitutes_the_fixed_placeholders_only():
    context = {"franquiciado": "Carmen", "ticket": "T-000007", "agente": "Ana", "asunto": "No imprime"}
    body = "Hola {{ franquiciado }}, {{ticket}} / {{TICKET}} · {{franchisee}} · {{desconocido}} · {{agente}}"
    assert rendering.render(body, context) == ("Hola Carmen, T-000007 / T-000007 · Carmen · {{desconocido}} · Ana")


def test_render_is_not_a_template_engine_and_does_not_expand_twice():
    # Values that look like placeholders or template code stay literal text.
    context = {"franquiciado": "{{agente}} {% debug %} <script>alert(1)</script>", "agente": "Ana"}
    body = "{{franquiciado}} {% load static %}{{ settings.SECRET_KEY }} {{request.user}}"
    out = rendering.render(body, context)
    literal = "{% load static %}{{ settings.SECRET_KEY }} {{request.user}}"
    assert out == "{{agente}} {% debug %} <script>alert(1)</script> " + literal


def test_unknown_placeholders_are_refused_on_save(agent):
    with pytest.raises(ValidationError) as exc:
        services.create_macro(actor=agent, name="mala", body="Hola {{user.password}} {{nombre}}")
    assert "nombre" in str(exc.value)
    assert not Macro.objects.exists()


def test_ticket_and_conversation_context(ticket, agent, franchisee):
    context = rendering.ticket_context(ticket, agent)
    assert context == {
        "franquiciado": franchisee.display_name,
        "ticket": ticket.number,
        "agente": "Ana",
        "asunto": "El datáfono no imprime",
        "franquicia": "Franquicia Centro",
    }
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="Sin línea")
    context = rendering.conversation_context(conversation, agent)
    assert context["asunto"] == "Sin línea" and context["ticket"] == ""
    assert context["franquiciado"] == franchisee.display_name


# --- who may write what ---------------------------------------------------------------------------


def test_only_supervisors_create_shared_macros(agent, supervisor):
    with pytest.raises(services.MacroError):
        services.create_macro(actor=agent, shared=True, name="x", body="Hola")
    macro = services.create_macro(actor=supervisor, shared=True, name="x", body="Hola")
    assert macro.is_shared
    with pytest.raises(services.MacroError):
        services.update_macro(macro=macro, actor=agent, body="Cambiado")


def test_franchisees_cannot_create(franchisee):
    with pytest.raises(services.MacroError):
        services.create_macro(actor=franchisee, name="x", body="Hola")


def test_names_are_unique_per_owner_and_among_shared(agent, agent2, supervisor):
    services.create_macro(actor=agent, name="firma", body="A")
    services.create_macro(actor=agent2, name="firma", body="B")  # another agent's: fine
    with pytest.raises(ValidationError):
        services.create_macro(actor=agent, name="firma", body="C")
    services.create_macro(actor=supervisor, shared=True, name="firma", body="D")
    with pytest.raises(ValidationError):
        services.create_macro(actor=supervisor, shared=True, name="firma", body="E")


# --- scoping ----------------------------------------------------------------------------------------


def test_visible_macros_are_shared_and_own(agent, agent2, shared, personal, franchisee):
    mine = services.create_macro(actor=agent, name="ana-firma", body="Ana")
    assert set(selectors.visible_macros(agent)) == {shared, mine}
    assert set(selectors.visible_macros(agent2)) == {shared, personal}
    assert list(selectors.visible_macros(franchisee)) == []


def test_another_agents_personal_macro_is_a_404(agent, personal):
    client = client_for(agent)
    assert client.get(f"/agent/macros/{personal.pk}/edit/").status_code == 404
    assert client.post(f"/agent/macros/{personal.pk}/delete/").status_code == 404
    assert client.post(f"/agent/macros/{personal.pk}/used/", {"message": "1"}).status_code == 404
    response = client.get("/agent/macros/search/?q=bea")
    assert response.json() == {"results": []}
    assert "bea-firma" not in client.get("/agent/macros/").content.decode()
    Macro.objects.get(pk=personal.pk)  # untouched


def test_a_ticket_reply_with_another_agents_macro_is_a_404(agent, personal, ticket):
    response = client_for(agent).post(f"/tickets/{ticket.pk}/comments/", {"body": "Hola", "macro": personal.pk})
    assert response.status_code == 404
    assert not Comment.objects.filter(ticket=ticket).exists()


@pytest.mark.parametrize(
    "url",
    ["/agent/macros/", "/agent/macros/new/", "/agent/macros/search/?q=", "/agent/macros/{pk}/edit/"],
)
def test_franchisees_get_404_everywhere(franchisee_client, shared, url):
    assert franchisee_client.get(url.format(pk=shared.pk)).status_code == 404


def test_franchisees_get_404_on_posts(franchisee_client, shared):
    assert franchisee_client.post("/agent/macros/new/", {"name": "x", "body": "y"}).status_code == 404
    assert franchisee_client.post(f"/agent/macros/{shared.pk}/delete/").status_code == 404
    assert franchisee_client.post(f"/agent/macros/{shared.pk}/used/", {"message": "1"}).status_code == 404
    assert Macro.objects.filter(pk=shared.pk).exists()


def test_agents_cannot_edit_shared_macros_supervisors_can(agent_client, supervisor_client, shared):
    assert agent_client.get(f"/agent/macros/{shared.pk}/edit/").status_code == 404
    response = supervisor_client.post(
        f"/agent/macros/{shared.pk}/edit/", {"name": "reinicio", "body": "Nuevo texto {{agente}}"}
    )
    assert response.status_code == 302
    shared.refresh_from_db()
    assert shared.body == "Nuevo texto {{agente}}"


def test_search_for_another_franchise_ticket_context(agent_client, shared, other_franchisee):
    # agents see every franchise; a ticket that does not exist is a 404
    assert agent_client.get("/agent/macros/search/?q=&ticket=999999").status_code == 404
    assert agent_client.get("/agent/macros/search/?q=&conversation=999999").status_code == 404


# --- page -------------------------------------------------------------------------------------------


def test_agent_creates_a_personal_macro_with_actions(agent, agent_client):
    response = agent_client.post(
        "/agent/macros/new/",
        {
            "name": "pendiente",
            "body": "Quedo a la espera, {{franquiciado}}.",
            "set_status": "pending",
            "set_priority": "high",
            "assign_to_self": "on",
        },
    )
    assert response.status_code == 302
    macro = Macro.objects.get(name="pendiente")
    assert macro.owner == agent and macro.set_status == "pending" and macro.assign_to_self
    page = agent_client.get("/agent/macros/").content.decode()
    assert "/pendiente" in page and "Quedo a la espera" in page


def test_form_errors_keep_the_input(agent_client):
    response = agent_client.post("/agent/macros/new/", {"name": "mala", "body": "Hola {{contraseña}}"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Marcadores desconocidos" in page and "Hola {{contraseña}}" in page
    assert not Macro.objects.exists()


def test_agent_cannot_make_it_shared(agent, agent_client):
    agent_client.post("/agent/macros/new/", {"name": "x", "body": "Hola", "shared": "on"})
    assert Macro.objects.get(name="x").owner == agent


def test_search_renders_previews_for_the_ticket(agent, agent_client, shared, ticket, franchisee):
    mine = services.create_macro(actor=agent, name="reembolso", body="Te devolvemos el importe, {{franquiciado}}.")
    data = agent_client.get(f"/agent/macros/search/?q=rein&ticket={ticket.pk}").json()
    assert [r["name"] for r in data["results"]] == ["reinicio"]
    text = data["results"][0]["text"]
    assert text == (
        f"Hola {franchisee.display_name}, sobre {ticket.number} (El datáfono no imprime): reinicia el datáfono. Ana"
    )
    names = [r["name"] for r in agent_client.get(f"/agent/macros/search/?q=&ticket={ticket.pk}").json()["results"]]
    assert set(names) == {"reinicio", mine.name}


def test_ticket_page_offers_the_picker_to_agents_only(agent_client, franchisee_client, ticket):
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "data-macro-picker" in page and "macros/picker.js" in page
    page = franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert "data-macro-picker" not in page and "macros/picker.js" not in page


# --- actions through the ticket services, and usage ------------------------------------------------------


def test_reply_with_macro_applies_actions_and_counts(agent, agent_client, ticket, franchisee):
    macro = services.create_macro(
        actor=agent,
        name="espera",
        body="Quedo a la espera",
        set_status="pending",
        set_priority="high",
        assign_to_self=True,
    )
    response = agent_client.post(
        f"/tickets/{ticket.pk}/comments/", {"body": "Quedo a la espera, Carmen", "macro": macro.pk}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING and ticket.priority == "high" and ticket.assignee == agent
    kinds = list(Event.objects.filter(ticket=ticket).values_list("kind", flat=True))
    for kind in ("commented", "priority", "assigned", "status"):
        assert kind in kinds
    status_event = Event.objects.get(ticket=ticket, kind="status", new_value="pending")
    assert status_event.actor == agent
    # the franchisee is told about the reply and the status, through the ticket services
    assert Notification.objects.filter(recipient=franchisee, kind="ticket_comment").exists()
    assert Notification.objects.filter(recipient=franchisee, kind="ticket_status").exists()
    macro.refresh_from_db()
    assert macro.usage_count == 1
    use = MacroUse.objects.get()
    assert use.comment.body == "Quedo a la espera, Carmen" and use.user == agent


def test_a_refused_action_stores_nothing(agent, agent2, ticket):
    from tickets import services as ticket_services

    ticket_services.assign(ticket=ticket, actor=agent2, assignee=agent2)
    macro = services.create_macro(actor=agent, name="mio", body="Lo miro yo", assign_to_self=True)
    response = client_for(agent).post(f"/tickets/{ticket.pk}/comments/", {"body": "Lo miro yo", "macro": macro.pk})
    assert response.status_code == 400
    assert "solo un supervisor" in response.content.decode()
    assert "Lo miro yo" in response.content.decode()  # the text is kept in the form
    assert not Comment.objects.filter(ticket=ticket).exists()
    macro.refresh_from_db()
    ticket.refresh_from_db()
    assert macro.usage_count == 0 and ticket.assignee == agent2


def test_invalid_transition_is_refused_whole(agent, ticket):
    from tickets import services as ticket_services

    ticket_services.change_status(ticket=ticket, actor=agent, status="closed")
    macro = services.create_macro(actor=agent, name="x", body="Hola", set_status="pending")
    comment_count = Comment.objects.count()
    # a macro's actions don't apply to a closed ticket: refused whole, the text kept, nothing counted
    # (a plain reply would open a follow-up ticket instead)
    response = client_for(agent).post(f"/tickets/{ticket.pk}/comments/", {"body": "Hola", "macro": macro.pk})
    assert response.status_code == 400
    assert "sin ella para abrir un seguimiento" in response.content.decode()
    assert "Hola" in response.content.decode()
    assert not Ticket.objects.filter(follow_up_of=ticket).exists()
    assert Comment.objects.count() == comment_count
    assert Macro.objects.get(pk=macro.pk).usage_count == 0


def test_reply_without_macro_is_a_plain_reply(agent_client, ticket):
    agent_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Hola", "macro": ""})
    assert Comment.objects.filter(ticket=ticket, body="Hola").exists()
    assert not MacroUse.objects.exists()


def test_franchisee_posting_a_macro_id_gets_a_plain_reply(franchisee_client, shared, ticket):
    franchisee_client.post(f"/tickets/{ticket.pk}/comments/", {"body": "Gracias", "macro": shared.pk})
    assert Comment.objects.filter(ticket=ticket, body="Gracias").exists()
    assert Macro.objects.get(pk=shared.pk).usage_count == 0


def test_chat_use_is_counted_once_for_the_agents_own_message(agent, agent2, franchisee, shared):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="Sin línea")
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    message, _ = chat_services.post_message(conversation_id=conversation.pk, author=agent, body="Hola", client_id="c1")
    client = client_for(agent)
    assert client.post(f"/agent/macros/{shared.pk}/used/", {"message": message.pk}).json() == {"counted": True}
    assert client.post(f"/agent/macros/{shared.pk}/used/", {"message": message.pk}).json() == {"counted": False}
    assert Macro.objects.get(pk=shared.pk).usage_count == 1
    # someone else's message is not counted
    other, _ = chat_services.post_message(
        conversation_id=conversation.pk, author=franchisee, body="Vale", client_id="c2"
    )
    assert client_for(agent2).post(f"/agent/macros/{shared.pk}/used/", {"message": message.pk}).status_code == 404
    assert client.post(f"/agent/macros/{shared.pk}/used/", {"message": other.pk}).status_code == 404
    assert client.post(f"/agent/macros/{shared.pk}/used/", {}).status_code == 400
    assert Macro.objects.get(pk=shared.pk).usage_count == 1


def test_chat_page_offers_the_picker_to_agents(agent, franchisee):
    conversation = chat_services.start_conversation(franchisee=franchisee, topic="Sin línea")
    chat_services.accept_conversation(conversation_id=conversation.pk, agent=agent)
    page = client_for(agent).get(f"/chat/{conversation.pk}/").content.decode()
    assert 'data-target="chat-body"' in page and f"conversation={conversation.pk}" in page
    page = client_for(franchisee).get(f"/chat/{conversation.pk}/").content.decode()
    assert "data-macro-picker" not in page


@pytest.mark.postgres
def test_usage_count_on_postgresql(agent, ticket, shared):
    require_env("DATABASE_URL")
    client = client_for(agent)
    for n in range(3):
        client.post(f"/tickets/{ticket.pk}/comments/", {"body": f"Respuesta {n}", "macro": shared.pk})
    assert Macro.objects.get(pk=shared.pk).usage_count == 3
    assert MacroUse.objects.filter(macro=shared).count() == 3


# --- admin ------------------------------------------------------------------------------------------


def test_admin_lists_shared_and_own_only_and_agents_only_look(agent, supervisor, shared, personal):
    mine = services.create_macro(actor=supervisor, name="sara-firma", body="Sara")
    page = client_for(supervisor).get("/admin/macros/macro/").content.decode()
    assert "/reinicio" in page and "/sara-firma" in page and "bea-firma" not in page
    assert client_for(supervisor).get(f"/admin/macros/macro/{personal.pk}/change/").status_code in (302, 404)
    agent_client = client_for(agent)
    assert agent_client.get("/admin/macros/macro/").status_code == 200
    response = agent_client.post(f"/admin/macros/macro/{shared.pk}/change/", {"name": "x", "body": "y"})
    assert response.status_code == 403
    assert Macro.objects.get(pk=shared.pk).name == "reinicio"
    assert Macro.objects.get(pk=mine.pk).owner == supervisor


def test_admin_refuses_unknown_placeholders(supervisor, shared):
    response = client_for(supervisor).post(
        f"/admin/macros/macro/{shared.pk}/change/", {"name": "reinicio", "body": "Hola {{secreto}}", "usage_count": 0}
    )
    assert response.status_code == 200 and "Marcadores desconocidos" in response.content.decode()
    assert Macro.objects.get(pk=shared.pk).body.startswith("Hola {{franquiciado}}")


def test_search_queries_do_not_grow_with_macros(agent, supervisor, ticket, django_assert_max_num_queries):
    client = client_for(agent)
    for n in range(30):
        services.create_macro(actor=supervisor, shared=True, name=f"m{n}", body="x", assign_to_self=n % 2 == 0)
        services.create_macro(actor=agent, name=f"p{n}", body="y", assignee=supervisor if n % 2 else None)
    client.get(f"/agent/macros/search/?q=&ticket={ticket.pk}")  # warm the session
    with django_assert_max_num_queries(6):
        data = client.get(f"/agent/macros/search/?q=&ticket={ticket.pk}").json()
    assert len(data["results"]) == selectors.SEARCH_LIMIT
    with django_assert_max_num_queries(8):
        assert client.get("/agent/macros/").status_code == 200
