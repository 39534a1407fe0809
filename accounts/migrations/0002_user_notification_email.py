"""How notifications reach a user by email (SPEC §11); existing users get the default, `instant`."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='notification_email',
            field=models.CharField(choices=[('off', 'Off'), ('instant', 'Instant'), ('daily', 'Daily')], db_default='instant', default='instant', max_length=8),
        ),
    ]
