"""The filtered list's indexes (BENCHMARKS.md, "W2 at 1 000 000 tickets, again").

(project, status) becomes (project, status, priority): a filter on status and priority is one bitmap
of it, and (project, status) lookups read its prefix. (-priority, due_date, id) serves
`ordering=-priority,due_date` in order. The new index is built before the old one is dropped.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0011_event_notify"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["project", "status", "priority"], name="ticket_project_status_priority"),
        ),
        migrations.RemoveIndex(
            model_name="ticket",
            name="ticket_project_status",
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(fields=["-priority", "due_date", "id"], name="ticket_priority_due"),
        ),
    ]
