"""`NOTIFY hopla_events` from every transaction that writes events (tickets.event_wakeup).

A statement trigger: one notification per INSERT statement, and PostgreSQL folds the identical ones of
a transaction into one, delivered at commit (none on rollback). SQLite has no NOTIFY.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION tickets_event_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('hopla_events', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tickets_event_notify AFTER INSERT ON tickets_event
FOR EACH STATEMENT EXECUTE FUNCTION tickets_event_notify();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tickets_event_notify ON tickets_event;
DROP FUNCTION IF EXISTS tickets_event_notify();
"""


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0010_liststamp")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
