"""Custom fields per category: defined in the admin, asked in the new-ticket form, edited by agents,
filtered on /agent/, exposed in the API and given as CSV columns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api_helpers import token_client
from tests.tickets_factories import make_ticket
from tickets import custom_fields as cf
from tickets import services
from tickets.models import Category, CustomField, CustomValue, Event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_auto_assign(settings):
    settings.TICKETS_AUTO_ASSIGN = "off"


@pytest.fixture
def tpv(db) -> Category:
    return Category.objects.create(name="TPV", slug="tpv")


@pytest.fixture
def fields(tpv) -> dict[str, CustomField]:
    make = CustomField.objects.create
    return {
        "serie": make(category=tpv, key="serie", label="Número de serie", kind="text", required=True, position=1),
        "cajas": make(category=tpv, key="cajas", label="Cajas afectadas", kind="number", position=2),
        "modelo": make(category=tpv, key="modelo", label="Modelo", kind="choice", options="Ingenico\nVerifone"),
        "desde": make(category=tpv, key="desde", label="Falla desde", kind="date", position=4),
    }


def stored(ticket) -> dict[str, object]:
    return {v.field.key: v.value for v in CustomValue.objects.filter(ticket=ticket).select_related("field")}


def new_ticket_post(client, category, **extra):
    data = {"subject": "La TPV no arranca", "description": "Pantalla negra.", "category": category.pk, **extra}
    return client.post("/tickets/new/", data)


def test_new_ticket_form_asks_for_the_chosen_category_fields(tpv, fields, franchisee_client):
    page = franchisee_client.get("/tickets/new/").content.decode()
    assert "Número de serie *" in page and f'data-category="{tpv.pk}"' in page and "Ingenico" in page

    missing = new_ticket_post(franchisee_client, tpv)
    assert missing.status_code == 400
    assert "Número de serie: Este campo es requerido." in missing.content.decode()

    bad = new_ticket_post(
        franchisee_client, tpv, **{f"cf_{fields['serie'].pk}": "A1", f"cf_{fields['cajas'].pk}": "dos"}
    )
    assert bad.status_code == 400 and "Cajas afectadas" in bad.content.decode()

    ok = new_ticket_post(
        franchisee_client,
        tpv,
        **{
            f"cf_{fields['serie'].pk}": " SN-778 ",
            f"cf_{fields['cajas'].pk}": "2",
            f"cf_{fields['modelo'].pk}": "Verifone",
            f"cf_{fields['desde'].pk}": "2026-11-30",
        },
    )
    assert ok.status_code == 302
    ticket = services.Ticket.objects.get()
    assert stored(ticket) == {
        "serie": "SN-778",
        "cajas": Decimal("2"),
        "modelo": "Verifone",
        "desde": date(2026, 11, 30),
    }
    detail = franchisee_client.get(ok["Location"]).content.decode()
    assert "Número de serie" in detail and "SN-778" in detail and "Verifone" in detail


def test_fields_of_another_category_are_ignored(tpv, fields, franchisee_client):
    other = Category.objects.create(name="Red", slug="red")
    response = new_ticket_post(franchisee_client, other, **{f"cf_{fields['cajas'].pk}": "nope"})
    assert response.status_code == 302
    assert stored(services.Ticket.objects.get()) == {}


def test_a_choice_outside_the_list_is_refused(tpv, fields, franchisee):
    with pytest.raises(ValidationError) as exc:
        make_ticket(franchisee, category=tpv, custom_values={"serie": "1", "modelo": "Otro"})
    assert "modelo" in exc.value.message_dict
    with pytest.raises(ValidationError):
        make_ticket(franchisee, category=tpv, custom_values={"serie": "1", "inventado": "x"})
    assert not services.Ticket.objects.exists()


def test_chat_and_email_tickets_skip_required_fields(tpv, fields, franchisee):
    ticket = make_ticket(franchisee, category=tpv, source="chat")
    assert stored(ticket) == {}


def test_agents_edit_values_on_the_ticket_page_with_events(tpv, fields, franchisee, agent_client, franchisee_client):
    ticket = make_ticket(franchisee, category=tpv, custom_values={"serie": "SN-1"})
    url = f"/tickets/{ticket.pk}/fields/"
    page = agent_client.get(f"/tickets/{ticket.pk}/").content.decode()
    assert f'name="cf_{fields["cajas"].pk}"' in page

    post = {f"cf_{f.pk}": "" for f in fields.values()}
    agent_client.post(url, {**post, f"cf_{fields['serie'].pk}": "SN-1", f"cf_{fields['cajas'].pk}": "3"})
    assert stored(ticket) == {"serie": "SN-1", "cajas": Decimal("3")}
    event = Event.objects.get(ticket=ticket, kind=Event.Kind.CUSTOM_FIELD)
    assert (event.old_value, event.new_value, event.internal) == ("", "Cajas afectadas: 3", False)
    assert "Cajas afectadas: 3" in franchisee_client.get(f"/tickets/{ticket.pk}/").content.decode()

    # a required field cannot be emptied, a bad number is refused: nothing changes
    agent_client.post(url, {**post, f"cf_{fields['cajas'].pk}": "4"})
    agent_client.post(url, {**post, f"cf_{fields['serie'].pk}": "SN-1", f"cf_{fields['cajas'].pk}": "muchas"})
    assert stored(ticket) == {"serie": "SN-1", "cajas": Decimal("3")}
    assert Event.objects.filter(ticket=ticket, kind=Event.Kind.CUSTOM_FIELD).count() == 1

    assert franchisee_client.post(url, {f"cf_{fields['cajas'].pk}": "9"}).status_code == 404


def test_dashboard_filters_by_custom_fields(tpv, fields, franchisee, agent_client):
    a = make_ticket(franchisee, category=tpv, custom_values={"serie": "SN-ABC-1", "modelo": "Ingenico", "cajas": 2})
    b = make_ticket(franchisee, category=tpv, custom_values={"serie": "SN-XYZ-2", "modelo": "Verifone", "cajas": 5})

    def shown(query):
        response = agent_client.get(f"/agent/?view=open&category={tpv.pk}&{query}")
        assert response.status_code == 200
        return {t.pk for t in response.context["page"].object_list}

    assert shown(f"cf_{fields['modelo'].pk}=Ingenico") == {a.pk}
    assert shown(f"cf_{fields['serie'].pk}=xyz") == {b.pk}
    assert shown(f"cf_{fields['cajas'].pk}=5") == {b.pk}
    assert shown(f"cf_{fields['cajas'].pk}=cinco") == set()
    assert shown(f"cf_{fields['cajas'].pk}=2&cf_{fields['modelo'].pk}=Verifone") == set()
    assert "Cajas afectadas" in agent_client.get(f"/agent/?category={tpv.pk}").content.decode()


def test_api_reads_creates_and_patches_custom_fields(tpv, fields, franchisee, agent):
    fran_api = token_client(franchisee)
    refused = fran_api.post("/api/v1/tickets/", {"subject": "S", "description": "D", "category": tpv.pk}, format="json")
    assert refused.status_code == 400 and "serie" in refused.json()
    created = fran_api.post(
        "/api/v1/tickets/",
        {"subject": "S", "description": "D", "category": tpv.pk, "custom_fields": {"serie": "SN-9", "cajas": 1.5}},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["custom_fields"] == {"serie": "SN-9", "cajas": 1.5, "modelo": None, "desde": None}

    agent_api = token_client(agent)
    ticket_id = created.json()["id"]
    patched = agent_api.patch(
        f"/api/v1/tickets/{ticket_id}/", {"custom_fields": {"desde": "2026-12-01", "cajas": None}}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["custom_fields"] == {"serie": "SN-9", "cajas": None, "modelo": None, "desde": "2026-12-01"}
    bad = agent_api.patch(f"/api/v1/tickets/{ticket_id}/", {"custom_fields": {"serie": ""}}, format="json")
    assert bad.status_code == 400
    assert fran_api.patch(f"/api/v1/tickets/{ticket_id}/", {"custom_fields": {}}, format="json").status_code == 403


def test_export_columns_in_constant_queries(tpv, fields, franchisee, agent):
    tickets = [make_ticket(franchisee, category=tpv, custom_values={"serie": f"SN-{i}", "cajas": i}) for i in range(3)]
    services.set_tags(ticket=tickets[0], actor=agent, tags=["caja", "red"])
    with CaptureQueriesContext(connection) as small:
        columns = cf.export_columns(tickets[:1])
    assert columns.headers == [
        "Etiquetas", "Modelo (TPV)", "Número de serie (TPV)", "Cajas afectadas (TPV)", "Falla desde (TPV)"
    ]  # fmt: skip
    assert columns.row(tickets[0]) == ["caja, red", "", "SN-0", "0", ""]
    more = tickets + [make_ticket(franchisee, category=tpv, custom_values={"serie": "x"}) for _ in range(5)]
    with CaptureQueriesContext(connection) as large:
        columns = cf.export_columns(more)
    assert len(small.captured_queries) == len(large.captured_queries) == 3
    assert columns.row(more[2]) == ["", "", "SN-2", "2", ""]


def test_supervisors_define_fields_in_the_category_admin(tpv, fields, supervisor_client, agent_client):
    page = supervisor_client.get(f"/admin/tickets/category/{tpv.pk}/change/")
    assert page.status_code == 200 and "Número de serie" in page.content.decode()
    assert agent_client.get("/admin/tickets/customfield/add/").status_code == 403
    assert supervisor_client.get("/admin/tickets/customfield/add/").status_code == 200
    choice = CustomField(category=tpv, key="x", label="X", kind="choice", options="  \n")
    with pytest.raises(ValidationError):
        choice.full_clean()


def test_the_tickets_csv_export_carries_tags_and_custom_fields(tpv, fields, franchisee, agent, supervisor_client):
    import csv
    import io

    from django.utils import timezone

    ticket = make_ticket(franchisee, category=tpv, custom_values={"serie": "SN-42", "cajas": 3, "modelo": "Ingenico"})
    services.set_tags(ticket=ticket, actor=agent, tags=["caja", "red"])
    today = timezone.localdate().isoformat()
    response = supervisor_client.get("/agent/reports/tickets.csv", {"start": today, "end": today})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    header, row = list(csv.reader(io.StringIO(text)))[:2]
    cells = dict(zip(header, row, strict=True))
    assert cells["Etiquetas"] == "caja, red"
    assert cells["Número de serie (TPV)"] == "SN-42"
    assert cells["Cajas afectadas (TPV)"] == "3"
    assert cells["Modelo (TPV)"] == "Ingenico"
    assert cells["Falla desde (TPV)"] == ""
