from django.urls import path

import support_portal.converters  # noqa: F401  registers <id:…>
from knowledge_base import views

app_name = "knowledge_base"

urlpatterns = [
    path("", views.index, name="index"),
    path("search/", views.search, name="search"),
    path("suggest/", views.suggest, name="suggest"),
    path("new/", views.create, name="create"),
    path("preview/", views.preview, name="preview"),
    path("review/", views.review_list, name="review"),
    path("gaps/", views.content_gaps, name="gaps"),
    path("gaps/draft/", views.draft_for_query, name="gaps_draft"),
    path("<slug:slug>/", views.article_detail, name="article"),
    path("<slug:slug>/edit/", views.edit, name="edit"),
    path("<slug:slug>/status/", views.change_status, name="status"),
    path("<slug:slug>/reviewed/", views.reviewed, name="reviewed"),
    path("<slug:slug>/history/", views.history, name="history"),
    path("<slug:slug>/history/<id:number>/", views.revision_diff, name="revision"),
    path("<slug:slug>/history/<id:number>/restore/", views.restore, name="restore"),
    path("<slug:slug>/feedback/", views.feedback, name="feedback"),
    path("<slug:slug>/deflection/", views.deflection, name="deflection"),
]
