from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from chat import views

app_name = "chat"

urlpatterns: list = [
    path("", views.index, name="index"),
    path("<id:pk>/", views.detail, name="detail"),
    path("<id:pk>/accept/", views.accept, name="accept"),
    path("<id:pk>/transfer/", views.transfer, name="transfer"),
    path("<id:pk>/close/", views.close, name="close"),
    path("<id:pk>/resolve/", views.resolve, name="resolve"),
    path("<id:pk>/rate/", views.rate, name="rate"),
    path("<id:pk>/ticket/", views.to_ticket, name="ticket"),
    path("<id:pk>/draft-article/", views.draft_article, name="draft_article"),
    path("<id:pk>/attachments/", views.upload_attachment, name="attachments"),
    path("<id:pk>/attachments/<id:attachment_pk>/", views.attachment_download, name="attachment"),
    path("<id:pk>/attachments/<id:attachment_pk>/thumbnail/", views.attachment_thumbnail, name="attachment_thumbnail"),
]
