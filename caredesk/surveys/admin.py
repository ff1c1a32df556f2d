from django.contrib import admin

from caredesk.surveys.models import Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["ticket", "customer", "channel", "state", "sent_at", "score", "answered_at"]
    list_filter = ["state", "channel", "score"]
    raw_id_fields = ["ticket", "customer", "agent"]
