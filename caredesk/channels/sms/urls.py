"""Twilio's webhooks (/sms/twilio/<account slug>/...)."""

from django.urls import path

from caredesk.channels.sms import views

app_name = "sms"
urlpatterns = [
    path("<slug:slug>/inbound/", views.inbound, name="inbound"),
    path("<slug:slug>/status/", views.status, name="status"),
]
