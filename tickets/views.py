"""Ticket pages and the agent dashboard."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import agent_required


@agent_required
def agent_dashboard(request: HttpRequest) -> HttpResponse:
    """Placeholder until the tickets issue fills the dashboard."""
    return render(request, "tickets/agent_dashboard.html", {})
