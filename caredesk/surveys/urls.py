"""Survey URLs: the public answer page, and the report for leads and admins."""

from django.urls import path

from caredesk.surveys import views

app_name = "surveys"
urlpatterns = [
    path("survey/<str:token>/", views.answer, name="answer"),
    path("agent/reports/csat/", views.report, name="report"),
]
