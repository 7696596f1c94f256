"""Supervisor pages: figures over a date range, CSV exports, and the audit log (thin views)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.decorators import supervisor_required
from tickets import breakdowns, export, selectors
from tickets.models import Event
from tickets.pagination import page_of

AUDIT_PAGE_SIZE = 50


class RangeForm(forms.Form):
    start = forms.DateField(label=gettext_lazy("Desde"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("Hasta"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=29)
        if start > end:
            raise forms.ValidationError(_("La fecha de inicio es posterior a la de fin."))
        if (end - start).days >= breakdowns.MAX_DAYS:
            raise forms.ValidationError(_("Como máximo %(n)d días.") % {"n": breakdowns.MAX_DAYS})
        data["start"], data["end"] = start, end
        return data


def _range(request: HttpRequest) -> tuple[RangeForm, tuple | None]:
    """The requested dates (default: the last 30 days), or None with the form's errors."""
    form = RangeForm(request.GET)
    if form.is_valid():
        return form, (form.cleaned_data["start"], form.cleaned_data["end"])
    return form, None


@supervisor_required
@require_GET
def figures_page(request: HttpRequest) -> HttpResponse:
    form, dates = _range(request)
    figures = breakdowns.cached_range_figures(*dates) if dates else None
    context = {
        "form": form,
        "figures": figures,
        "query": urlencode({"start": dates[0].isoformat(), "end": dates[1].isoformat()}) if dates else "",
        "breakdowns": [
            (_("Por agente"), figures.by_agent, "by-agent"),
            (_("Por franquicia"), figures.by_franchise, "by-franchise"),
        ]
        if figures
        else [],
    }
    return render(request, "tickets/reports/figures.html", context, status=200 if dates else 400)


@supervisor_required
@require_GET
def figures_csv(request: HttpRequest) -> HttpResponse:
    form, dates = _range(request)
    if dates is None:
        return HttpResponse(" ".join(form.non_field_errors()) or _("Fechas no válidas."), status=400)
    figures = breakdowns.cached_range_figures(*dates)
    name = f"cifras_{dates[0]:%Y%m%d}_{dates[1]:%Y%m%d}.csv"
    return export.rows_csv(breakdowns.csv_header(), breakdowns.csv_rows(figures), name)


@supervisor_required
@require_GET
def tickets_csv(request: HttpRequest) -> HttpResponse:
    """Every ticket created in the range (all franchises), streamed."""
    form, dates = _range(request)
    if dates is None:
        return HttpResponse(" ".join(form.non_field_errors()) or _("Fechas no válidas."), status=400)
    since, until = breakdowns.bounds(*dates)
    queryset = selectors.visible_tickets(request.user).filter(created_at__gte=since, created_at__lt=until)
    name = f"tickets_{dates[0]:%Y%m%d}_{dates[1]:%Y%m%d}.csv"
    return export.tickets_csv(queryset, request.user, name)


@supervisor_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """Every ticket change by anyone, newest first, filtered by actor, franchise, kind, channel, dates."""
    filters = selectors.AuditFilters.from_query(request.GET)
    page = page_of(selectors.audit_events(request.user, filters), request.GET.get("page"), AUDIT_PAGE_SIZE)
    params = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "filters": filters,
        "page": page,
        "query": urlencode(params),
        "kinds": Event.Kind.choices,
        "channels": Event.Via.choices,
        "franchises": selectors.franchises(),
    }
    return render(request, "tickets/reports/audit.html", context)
