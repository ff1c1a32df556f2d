"""Customer portal and help centre URLs."""

from django.urls import path

from caredesk.portal import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("requests/new/", views.new_request, name="new"),
    path("requests/thanks/", views.thanks, name="thanks"),
    path("requests/", views.my_requests, name="requests"),
    path("requests/<int:number>/", views.request_detail, name="request"),
    path("files/<int:attachment_id>/", views.attachment, name="attachment"),
    path("signin/", views.sign_in, name="signin"),
    path("signout/", views.sign_out, name="signout"),
    path("auth/<str:token>/", views.redeem, name="redeem"),
]
