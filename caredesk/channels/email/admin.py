from django.contrib import admin

from caredesk.channels.email.models import EmailTemplate, Mailbox


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = ["address", "team", "protocol", "active", "last_polled_at", "last_error"]
    exclude = ["last_uid"]


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["key", "subject"]
