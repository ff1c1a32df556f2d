"""Survey URLs: the public answer page. The settings and the report are admin sections
(/agent/admin/surveys/, /agent/admin/csat/), reached through `agent.admin_views`."""

from django.urls import path

from caredesk.surveys import views

app_name = "surveys"
urlpatterns = [
    path("survey/<str:token>/", views.answer, name="answer"),
]
