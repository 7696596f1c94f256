"""/tickets/… routes (the agent dashboard /agent/ is routed in support_portal/urls.py)."""

from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("new/", views.ticket_new, name="new"),
    path("bulk/", views.ticket_bulk, name="bulk"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/comments/", views.ticket_comment, name="comment"),
    path("<int:pk>/reopen/", views.ticket_reopen, name="reopen"),
    path("<int:pk>/rate/", views.ticket_rate, name="rate"),
    path("<int:pk>/claim/", views.ticket_claim, name="claim"),
    path("<int:pk>/assign/", views.ticket_assign, name="assign"),
    path("<int:pk>/unassign/", views.ticket_unassign, name="unassign"),
    path("<int:pk>/status/", views.ticket_status, name="status"),
    path("<int:pk>/priority/", views.ticket_priority, name="priority"),
    path("<int:pk>/category/", views.ticket_category, name="category"),
    path("<int:pk>/resolve/", views.ticket_resolve, name="resolve"),
    path("<int:pk>/close/", views.ticket_close, name="close"),
    path("<int:pk>/merge/", views.ticket_merge, name="merge"),
    path("<int:pk>/draft-article/", views.ticket_draft_article, name="draft_article"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.attachment_download, name="attachment"),
]
