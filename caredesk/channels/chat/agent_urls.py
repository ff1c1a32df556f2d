"""The agent's chat desk (/agent/chats/...)."""

from django.urls import path

from caredesk.channels.chat import views

app_name = "chat-agent"
urlpatterns = [
    path("", views.desk, name="desk"),
    path("presence/", views.presence, name="presence"),
    path("<str:token>/column/", views.column, name="column"),
    path("<str:token>/transfer/", views.transfer, name="transfer"),
]
