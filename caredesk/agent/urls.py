"""Agent workspace URLs."""

from django.contrib.auth import views as auth_views
from django.urls import path

from caredesk.agent import admin_views, sent_mail, views

app_name = "agent"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/agent/login/"), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password"),
    path("views/save/", views.save_view, name="save-view"),
    path("columns/", views.inbox_columns, name="inbox-columns"),
    path("views/<int:view_id>/delete/", views.delete_view, name="delete-view"),
    path("bulk/", views.bulk, name="bulk"),
    path("next/", views.next_ticket, name="next"),
    path("composer/preview/", views.composer_preview, name="composer-preview"),
    path("composer/images/<int:attachment_id>/", views.pending_image, name="composer-image"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/count/", views.notification_count, name="notification-count"),
    path(
        "notifications/<int:notification_id>/",
        views.open_notification,
        name="open-notification",
    ),
    path("presence-prompt/", views.presence_prompt, name="presence-prompt"),
    path("tickets/<int:number>/", views.ticket_page, name="ticket"),
    path("tickets/<int:number>/reply/", views.reply, name="reply"),
    path("tickets/<int:number>/follow-up/", views.create_follow_up, name="follow-up"),
    path("tickets/<int:number>/update/", views.update, name="update"),
    path("tickets/<int:number>/merge/", views.merge, name="merge"),
    path("tickets/<int:number>/split/", views.split, name="split"),
    path("tickets/<int:number>/link/", views.link, name="link"),
    path("tickets/<int:number>/escalate/", views.escalate, name="escalate"),
    path("tickets/<int:number>/macro/", views.apply_macro, name="macro"),
    path("tickets/<int:number>/snippet/", views.expand_snippet, name="snippet"),
    path("tickets/<int:number>/images/", views.composer_image, name="composer-images"),
    path("tickets/<int:number>/presence/", views.presence, name="presence"),
    path("tickets/<int:number>/workflow/", views.ticket_workflow, name="ticket-workflow"),
    path(
        "tickets/<int:number>/customer-form/",
        views.ticket_customer_form,
        name="ticket-customer-form",
    ),
    path("tickets/<int:number>/<slug:action>/", views.quick_action, name="quick"),
    path("attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("customers/<int:customer_id>/", views.customer_page, name="customer"),
    path("customers/<int:customer_id>/edit/", views.customer_edit, name="customer-edit"),
    path("search/", views.search, name="search"),
    path("admin/", admin_views.admin_home, name="admin"),
    path("admin/sent-mail/", sent_mail.sent_mail_list, name="sent-mail"),
    path("admin/sent-mail/<str:name>/", sent_mail.sent_mail_detail, name="sent-mail-detail"),
    path("admin/<slug:section>/", admin_views.admin_section, name="admin-section"),
    path("admin/<slug:section>/<int:item_id>/", admin_views.admin_section, name="admin-edit"),
]
