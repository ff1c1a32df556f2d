"""Help-centre article and search pages (mounted at /help/ before the portal)."""

from django.urls import path

from caredesk.knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("search", views.help_search, name="search"),
    path("suggest", views.help_suggest, name="suggest"),
    path("categories/<slug:slug>/", views.category_page, name="category"),
    path("articles/<slug:slug>/", views.article_page, name="article"),
    path("articles/<slug:slug>/vote/", views.vote, name="vote"),
    path("files/<int:file_id>/<str:filename>", views.help_file, name="file"),
]
