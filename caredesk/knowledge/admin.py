from django.contrib import admin

from caredesk.knowledge.models import Article, Category, Section

admin.site.register(Category)
admin.site.register(Section)


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "language",
        "visibility",
        "status",
        "views",
        "helpful_yes",
        "helpful_no",
    ]
    list_filter = ["status", "visibility", "language"]
