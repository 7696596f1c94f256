from django.urls import path

from chat import views

app_name = "chat"

urlpatterns: list = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/accept/", views.accept, name="accept"),
    path("<int:pk>/transfer/", views.transfer, name="transfer"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("<int:pk>/rate/", views.rate, name="rate"),
    path("<int:pk>/ticket/", views.to_ticket, name="ticket"),
    path("<int:pk>/draft-article/", views.draft_article, name="draft_article"),
]
