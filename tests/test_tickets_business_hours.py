"""SLA clocks on support calendars: due dates, at-risk, pause and the dashboard's medians count working time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from tests.tickets_factories import make_ticket
from tickets import services
from tickets.figures import team_figures
from tickets.models import CalendarHoliday, CalendarHours, Category, SlaPolicy, SupportCalendar, Ticket

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")


def _calendar(name="Península", *, default=False, zone="Europe/Madrid", subdivision="MD") -> SupportCalendar:
    calendar = SupportCalendar.objects.create(
        name=name, time_zone=zone, holiday_country="ES", holiday_subdivision=subdivision, is_default=default
    )
    for weekday in range(5):
        CalendarHours.objects.create(calendar=calendar, weekday=weekday, opens=time(9), closes=time(18))
    return calendar


def _opened_at(ticket: Ticket, moment: datetime) -> Ticket:
    """Re-date a ticket's creation and recompute its SLA from then (as if it had been opened at `moment`)."""
    from tickets import sla

    Ticket.objects.filter(pk=ticket.pk).update(created_at=moment)
    ticket.refresh_from_db()
    sla.apply_policy(ticket, ticket.created_at)
    ticket.save()
    return ticket


def test_a_saturday_night_ticket_is_due_in_working_hours(franchisee):
    _calendar(default=True)
    SlaPolicy.objects.create(priority="normal", first_response_minutes=8 * 60, resolution_minutes=16 * 60)
    ticket = _opened_at(make_ticket(franchisee), datetime(2026, 12, 12, 23, 0, tzinfo=MADRID))  # Saturday
    assert ticket.first_response_due == datetime(2026, 12, 14, 17, 0, tzinfo=MADRID)  # Monday 17:00
    # 16 h: Monday 9–18 and Tuesday 9–16; at-risk at 75 % = 12 h: Tuesday 12:00
    assert ticket.resolution_due == datetime(2026, 12, 15, 16, 0, tzinfo=MADRID)
    assert ticket.resolution_risk_at == datetime(2026, 12, 15, 12, 0, tzinfo=MADRID)


def test_holidays_from_the_library_and_the_calendar_are_skipped(franchisee):
    calendar = _calendar(default=True)
    CalendarHoliday.objects.create(calendar=calendar, date=datetime(2026, 12, 9).date(), name="Cierre local")
    SlaPolicy.objects.create(priority="normal", first_response_minutes=2 * 60, resolution_minutes=4 * 60)
    # Friday 4 Dec 17:00; Monday 7th is Madrid's Monday after Constitution Day (regional), the 8th the
    # Immaculate Conception (national), the 9th a closure of the calendar's own: due Thursday 10:00
    ticket = _opened_at(make_ticket(franchisee), datetime(2026, 12, 4, 17, 0, tzinfo=MADRID))
    assert ticket.first_response_due == datetime(2026, 12, 10, 10, 0, tzinfo=MADRID)


def test_the_category_calendar_wins_over_the_priority_and_the_default(franchisee):
    _calendar(default=True)
    canary = _calendar("Canarias", zone="Atlantic/Canary", subdivision="CN")
    category = Category.objects.create(name="TPV Canarias", slug="tpv-canarias", calendar=canary)
    SlaPolicy.objects.create(priority="normal", first_response_minutes=60, resolution_minutes=120)
    monday_9_madrid = datetime(2026, 12, 14, 9, 0, tzinfo=MADRID)  # 08:00 in Las Palmas: not yet open
    mainland = _opened_at(make_ticket(franchisee), monday_9_madrid)
    islands = _opened_at(make_ticket(franchisee, category=category), monday_9_madrid)
    assert mainland.first_response_due == datetime(2026, 12, 14, 10, 0, tzinfo=MADRID)
    assert islands.first_response_due == datetime(2026, 12, 14, 11, 0, tzinfo=MADRID)


def test_urgent_tickets_can_run_24x7_on_their_own_calendar(franchisee):
    _calendar(default=True)
    always = SupportCalendar.objects.create(name="Guardia 24×7", holiday_country="")
    for weekday in range(7):
        CalendarHours.objects.create(calendar=always, weekday=weekday, opens=time(0), closes=time(0))
    SlaPolicy.objects.create(priority="urgent", first_response_minutes=30, resolution_minutes=240, calendar=always)
    saturday = datetime(2026, 12, 12, 23, 0, tzinfo=MADRID)
    ticket = _opened_at(make_ticket(franchisee, priority="urgent"), saturday)
    assert ticket.first_response_due == saturday + timedelta(minutes=30)


def test_a_pause_over_the_weekend_gives_back_only_the_working_time_it_took(franchisee, agent):
    _calendar(default=True)
    SlaPolicy.objects.create(priority="normal", first_response_minutes=60, resolution_minutes=8 * 60)
    ticket = _opened_at(make_ticket(franchisee), datetime(2026, 12, 11, 9, 0, tzinfo=MADRID))  # Friday 09:00
    assert ticket.resolution_due == datetime(2026, 12, 11, 17, 0, tzinfo=MADRID)
    services.change_status(ticket=ticket, actor=agent, status="pending")
    # pending from Friday 16:00 (one working hour left) to Monday 10:00: Friday 16–18 and Monday 9–10
    # were paused (3 working hours, the weekend is not), so the due date moves 3 working hours later
    Ticket.objects.filter(pk=ticket.pk).update(sla_paused_at=datetime(2026, 12, 11, 16, 0, tzinfo=MADRID))
    ticket.refresh_from_db()
    from tickets import sla

    sla.resume(ticket, datetime(2026, 12, 14, 10, 0, tzinfo=MADRID))
    assert ticket.sla_paused_seconds == 3 * 3600
    assert ticket.resolution_due == datetime(2026, 12, 14, 11, 0, tzinfo=MADRID)  # Fri 17–18 + Mon 9–11


def test_without_any_calendar_the_clock_still_runs_24x7(franchisee):
    SlaPolicy.objects.create(priority="normal", first_response_minutes=60, resolution_minutes=120)
    saturday = datetime(2026, 12, 12, 23, 0, tzinfo=MADRID)
    ticket = _opened_at(make_ticket(franchisee), saturday)
    assert ticket.first_response_due == saturday + timedelta(hours=1)


def test_the_dashboard_medians_count_working_time(franchisee, agent):
    _calendar(default=True)
    ticket = make_ticket(franchisee)
    friday_17 = datetime(2026, 12, 11, 17, 0, tzinfo=MADRID)
    Ticket.objects.filter(pk=ticket.pk).update(created_at=friday_17)
    ticket.refresh_from_db()
    monday_10 = datetime(2026, 12, 14, 10, 0, tzinfo=MADRID)
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=monday_10):
        services.add_comment(ticket=ticket, actor=agent, body="Lo miramos.")
        services.resolve(ticket=ticket, actor=agent)
    ticket.refresh_from_db()
    assert ticket.first_response_seconds == 2 * 3600  # Friday 17–18 and Monday 9–10, not 65 hours
    figures = team_figures(now=monday_10 + timedelta(hours=1))
    assert figures.periods[0].median_first_response == timedelta(hours=2)
    assert figures.periods[0].median_resolution == timedelta(hours=2)


def test_a_calendar_is_validated(db):
    calendar = SupportCalendar(name="Mal", time_zone="Europe/Atlantida", holiday_country="XX")
    with pytest.raises(ValidationError) as error:
        calendar.full_clean()
    assert {"time_zone", "holiday_country"} <= set(error.value.message_dict)
    hours = CalendarHours(calendar=_calendar(), weekday=0, opens=time(18), closes=time(9))
    with pytest.raises(ValidationError):
        hours.full_clean()


def test_supervisors_edit_calendars_agents_only_look(agent_client, supervisor_client):
    _calendar()
    assert supervisor_client.get("/admin/tickets/supportcalendar/add/").status_code == 200
    assert agent_client.get("/admin/tickets/supportcalendar/add/").status_code == 403
    assert agent_client.get("/admin/tickets/supportcalendar/").status_code == 200
    page = supervisor_client.get(f"/admin/tickets/supportcalendar/{SupportCalendar.objects.get().pk}/change/")
    assert page.status_code == 200
    assert "Natividad del Señor" in page.content.decode()  # this year's holidays, from the library


def test_a_franchisee_reply_to_a_resolved_ticket_reopens_it_within_the_window(franchisee, agent, settings):
    settings.TICKETS_REOPEN_DAYS = 7
    ticket = make_ticket(franchisee)
    services.add_comment(ticket=ticket, actor=agent, body="Reinicia la TPV.")
    services.resolve(ticket=ticket, actor=agent)
    services.add_comment(ticket=ticket, actor=franchisee, body="Sigue sin imprimir.")
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.resolved_at is None and ticket.resolution_seconds is None
    ticket = services.resolve(ticket=ticket, actor=agent)
    Ticket.objects.filter(pk=ticket.pk).update(resolved_at=ticket.resolved_at - timedelta(days=8))
    services.add_comment(ticket=ticket, actor=franchisee, body="Gracias.")
    ticket.refresh_from_db()
    assert ticket.status == "resolved"  # past the window: the reply stays, auto-close follows
