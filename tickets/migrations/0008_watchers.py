"""Watchers (SPEC §11), and the ones existing tickets already have: their reporters, assignees and
commenters who are still members of the ticket's project (as if the services had written them)."""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

BACKFILL = """
INSERT INTO tickets_watcher (ticket_id, user_id, created_at)
SELECT watched.ticket_id, watched.user_id, CURRENT_TIMESTAMP FROM (
    SELECT id AS ticket_id, project_id, reporter_id AS user_id FROM tickets_ticket WHERE reporter_id IS NOT NULL
    UNION
    SELECT id, project_id, assignee_id FROM tickets_ticket WHERE assignee_id IS NOT NULL
    UNION
    SELECT tickets_ticket.id, tickets_ticket.project_id, tickets_comment.author_id
    FROM tickets_comment JOIN tickets_ticket ON tickets_ticket.id = tickets_comment.ticket_id
    WHERE tickets_comment.author_id IS NOT NULL
) AS watched
JOIN tickets_membership
    ON tickets_membership.project_id = watched.project_id AND tickets_membership.user_id = watched.user_id
"""


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0007_ticket_external_ref'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]


    operations = [
        migrations.CreateModel(
            name='Watcher',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                ('ticket', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='watchers', to='tickets.ticket')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='watching', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['created_at', 'id'],
                'constraints': [models.UniqueConstraint(fields=('ticket', 'user'), name='unique_watcher')],
            },
        ),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
