"""Notifications and the worker's cursor over the event table, which starts at the newest event:
events before the app existed notify nobody, and every event after its migration does."""

import django.db.models.deletion
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tickets', '0008_watchers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='NotifyCursor',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('last_seq', models.BigIntegerField(default=0)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.CreateModel(
            name='Notification',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('ticket', models.JSONField(default=dict)),
                ('reason', models.CharField(choices=[('watching', 'Watching'), ('assigned', 'Assigned'), ('reporter', 'Reporter')], max_length=16)),
                ('read_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField()),
                ('emailed_at', models.DateTimeField(blank=True, null=True)),
                ('event', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tickets.event')),
                ('project', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tickets.project')),
                ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['user', '-created_at', '-id'], name='notification_user_created'), models.Index(condition=models.Q(('read_at__isnull', True)), fields=['user', 'created_at'], name='notification_unread'), models.Index(fields=['event'], name='notification_event')],
                'constraints': [models.UniqueConstraint(fields=('user', 'event'), name='notification_one_per_event')],
            },
        ),
        migrations.RunSQL(
            "INSERT INTO notifications_notifycursor (id, last_seq) SELECT 1, COALESCE(MAX(seq), 0) FROM tickets_event",
            migrations.RunSQL.noop,
        ),
    ]
