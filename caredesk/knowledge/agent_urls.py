"""The agents' knowledge-base pages (mounted at /agent/kb/)."""

from django.urls import path

from caredesk.knowledge import views

app_name = "kb-agent"
urlpatterns = [
    path("", views.kb_list, name="list"),
    path("new/", views.kb_edit, name="new"),
    path("<int:article_id>/", views.kb_edit, name="edit"),
    path("<int:article_id>/restore/<int:number>/", views.kb_restore, name="restore"),
    path("<int:article_id>/files/", views.kb_file_upload, name="file-upload"),
    path("<int:article_id>/files/<int:file_id>/delete/", views.kb_file_delete, name="file-delete"),
    path("<int:article_id>/related/", views.kb_related_add, name="related-add"),
    path(
        "<int:article_id>/related/<int:other_id>/remove/",
        views.kb_related_remove,
        name="related-remove",
    ),
    path("<int:article_id>/used/", views.kb_used, name="used"),
    path("suggest/<int:ticket_id>/", views.kb_suggest, name="suggest"),
]
