"""Public chat URLs (/chat/...)."""

from django.urls import path

from caredesk.channels.chat import views

app_name = "chat"
urlpatterns = [
    path("widget.js", views.widget_script, name="widget"),
    path("demo/", views.demo_page, name="demo"),
    path("upload/<slug:key>/", views.upload, name="upload"),
]
