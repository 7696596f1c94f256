"""/tickets/… routes (the agent dashboard /agent/ is routed in support_portal/urls.py)."""

from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_new, name="new"),
    path("bulk/", views.ticket_bulk, name="bulk"),
    path("<id:pk>/", views.ticket_detail, name="detail"),
    path("<id:pk>/comments/", views.ticket_comment, name="comment"),
    path("<id:pk>/reopen/", views.ticket_reopen, name="reopen"),
    path("<id:pk>/rate/", views.ticket_rate, name="rate"),
    path("<id:pk>/claim/", views.ticket_claim, name="claim"),
    path("<id:pk>/assign/", views.ticket_assign, name="assign"),
    path("<id:pk>/unassign/", views.ticket_unassign, name="unassign"),
    path("<id:pk>/status/", views.ticket_status, name="status"),
    path("<id:pk>/priority/", views.ticket_priority, name="priority"),
    path("<id:pk>/category/", views.ticket_category, name="category"),
    path("<id:pk>/resolve/", views.ticket_resolve, name="resolve"),
    path("<id:pk>/close/", views.ticket_close, name="close"),
    path("<id:pk>/merge/", views.ticket_merge, name="merge"),
    path("<id:pk>/tags/", views.ticket_tags, name="tags"),
    path("<id:pk>/fields/", views.ticket_custom_fields, name="custom_fields"),
    path("<id:pk>/links/", views.ticket_link, name="link"),
    path("<id:pk>/links/<id:link_pk>/remove/", views.ticket_unlink, name="unlink"),
    path("<id:pk>/followers/", views.ticket_follower_add, name="follower_add"),
    path("<id:pk>/followers/<id:user_pk>/remove/", views.ticket_follower_remove, name="follower_remove"),
    path("<id:pk>/draft-article/", views.ticket_draft_article, name="draft_article"),
    path("<id:pk>/attachments/<id:attachment_pk>/", views.attachment_download, name="attachment"),
]
