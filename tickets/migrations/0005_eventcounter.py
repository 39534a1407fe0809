"""The event counter replaces MAX(seq) + 1 under an advisory lock (tickets.services.event_writing).

Its row starts at the highest `seq` so far; a writer that finds it missing creates it the same way.
"""

from django.db import migrations, models

START = "INSERT INTO tickets_eventcounter (id, last) SELECT 1, COALESCE(MAX(seq), 0) FROM tickets_event"


class Migration(migrations.Migration):
    dependencies = [("tickets", "0004_project_ticket_count")]

    operations = [
        migrations.CreateModel(
            name="EventCounter",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("last", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunSQL(START, migrations.RunSQL.noop),
    ]
