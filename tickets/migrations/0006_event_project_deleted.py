"""`project.deleted`: an event that outlives its project, so the event's project is no database constraint.

Django deletes a project's events itself (the ORM's cascade), as before; only the tombstone written after
that deletion keeps the id of a project that is gone (tickets.services.projects.project_delete).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0005_eventcounter"),
    ]

    operations = [
        migrations.AlterField(
            model_name="event",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="tickets.project",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="type",
            field=models.CharField(
                choices=[
                    ("ticket.created", "Ticket Created"),
                    ("ticket.updated", "Ticket Updated"),
                    ("ticket.deleted", "Ticket Deleted"),
                    ("comment.created", "Comment Created"),
                    ("comment.updated", "Comment Updated"),
                    ("comment.deleted", "Comment Deleted"),
                    ("image.created", "Image Created"),
                    ("image.ready", "Image Ready"),
                    ("image.failed", "Image Failed"),
                    ("image.deleted", "Image Deleted"),
                    ("member.added", "Member Added"),
                    ("member.updated", "Member Updated"),
                    ("member.removed", "Member Removed"),
                    ("project.updated", "Project Updated"),
                    ("project.deleted", "Project Deleted"),
                ],
                max_length=32,
            ),
        ),
    ]
