"""/api/… routes: the JSON API (v1), its schema and docs, the tokens page and the webhooks pages."""

from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

import support_portal.converters  # noqa: F401  registers <id:…>
from api import pages, views

app_name = "api"


def _api(view):
    """API views authenticate themselves (token or session): the login redirect is for pages only
    (DRF already marks its views so; said here explicitly)."""
    return login_not_required(view.as_view())


class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"


urlpatterns = [
    path("v1/tickets/", _api(views.TicketListView), name="tickets"),
    path("v1/tickets/<id:pk>/", _api(views.TicketDetailView), name="ticket"),
    path("v1/tickets/<id:pk>/comments/", _api(views.TicketCommentsView), name="ticket_comments"),
    path("v1/tickets/<id:pk>/followers/", _api(views.TicketFollowersView), name="ticket_followers"),
    path("v1/tickets/<id:pk>/followers/<id:user_id>/", _api(views.TicketFollowerView), name="ticket_follower"),
    path("v1/tickets/<id:pk>/links/", _api(views.TicketLinksView), name="ticket_links"),
    path("v1/tickets/<id:pk>/links/<id:link_id>/", _api(views.TicketLinkView), name="ticket_link"),
    path("v1/kb/articles/", _api(views.ArticleListView), name="articles"),
    path("v1/kb/articles/<slug:slug>/", _api(views.ArticleDetailView), name="article"),
    path("v1/kb/search/", _api(views.ArticleSearchView), name="kb_search"),
    path("v1/chats/", _api(views.ChatListView), name="chats"),
    re_path(r"^v1/", _api(views.NotFoundView), name="not_found"),
    path("schema/", _api(SpectacularAPIView), name="schema"),
    # DRF marks its views login-exempt; the docs page is a page: anonymous visitors go to the login.
    path("docs/", login_required(SwaggerView.as_view(url_name="api:schema")), name="docs"),
    path("tokens/", pages.tokens_page, name="tokens"),
    path("tokens/new/", pages.token_create, name="token_create"),
    path("tokens/<str:token_key>/revoke/", pages.token_revoke, name="token_revoke"),
    path("webhooks/", pages.webhooks_page, name="webhooks"),
    path("webhooks/<id:pk>/", pages.webhook_detail, name="webhook"),
    path("webhooks/<id:pk>/test/", pages.webhook_test, name="webhook_test"),
    path("webhooks/<id:pk>/toggle/", pages.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<id:pk>/delete/", pages.webhook_delete, name="webhook_delete"),
]
