"""ListStamp: the part of the ticket list's ETag that no event moves (tickets.list_etag).

On PostgreSQL a trigger bumps it whenever a user's email or full name changes or a user is deleted
(their tickets lose the assignee or reporter): the list shows both, and the admin or a shell may
change them without any service knowing. SQLite (the embedded default) has no trigger and answers
lists without an ETag.
"""

from django.db import migrations, models

FORWARD = """
CREATE FUNCTION tickets_list_stamp_bump() RETURNS trigger AS $$
BEGIN
    INSERT INTO tickets_liststamp (id, value) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET value = tickets_liststamp.value + 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tickets_list_stamp_user_renamed AFTER UPDATE ON accounts_user
FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email OR OLD.full_name IS DISTINCT FROM NEW.full_name)
EXECUTE FUNCTION tickets_list_stamp_bump();

CREATE TRIGGER tickets_list_stamp_user_deleted AFTER DELETE ON accounts_user
FOR EACH STATEMENT EXECUTE FUNCTION tickets_list_stamp_bump();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tickets_list_stamp_user_renamed ON accounts_user;
DROP TRIGGER IF EXISTS tickets_list_stamp_user_deleted ON accounts_user;
DROP FUNCTION IF EXISTS tickets_list_stamp_bump();
"""


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("tickets", "0009_invitation"),
        ("accounts", "0002_user_notification_email"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListStamp",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("value", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD)),
    ]
