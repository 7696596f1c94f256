"""Login, logout and the landing page by role."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator

from accounts.access import is_agent


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return "/agent/" if is_agent(self.request.user) else "/"


def home(request: HttpRequest) -> HttpResponse:
    """Franchisee home; support staff go to their dashboard."""
    if is_agent(request.user):
        return redirect("agent_dashboard")
    from tickets.selectors import recent_tickets

    return render(request, "accounts/home.html", {"recent_tickets": recent_tickets(request.user)})
