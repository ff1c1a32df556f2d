from django.contrib import admin

from caredesk.channels.chat.models import ChatSession, ChatWidget


@admin.register(ChatWidget)
class ChatWidgetAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "team", "active", "require_email"]


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    list_display = ["token", "widget", "customer", "agent", "status", "started_at", "ended_at"]
    list_filter = ["status", "widget"]
    raw_id_fields = ["customer", "ticket", "agent", "offered_to"]
    readonly_fields = ["token", "visitor_id", "started_at", "accepted_at", "ended_at"]
