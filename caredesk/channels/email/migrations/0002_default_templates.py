from django.db import migrations

AUTO_ACK_BODY = (
    "Hello {customer_name},\n\n"
    'Thank you for contacting us. Your request #{ticket_number} ("{subject}") has been received and '
    "our team will reply soon.\n\nTo add information, just reply to this email."
)


def create_templates(apps, schema_editor):
    EmailTemplate = apps.get_model("email_channel", "EmailTemplate")
    EmailTemplate.objects.get_or_create(
        key="auto_ack",
        defaults={"subject": "We received your request [#{ticket_number}]", "body": AUTO_ACK_BODY},
    )


class Migration(migrations.Migration):
    dependencies = [("email_channel", "0001_initial")]
    operations = [migrations.RunPython(create_templates, migrations.RunPython.noop)]
