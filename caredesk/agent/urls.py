"""Agent workspace URLs."""

from django.urls import URLPattern, URLResolver

app_name = "agent"
urlpatterns: list[URLPattern | URLResolver] = []
