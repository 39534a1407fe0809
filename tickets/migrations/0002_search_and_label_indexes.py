"""PostgreSQL-only: the trigger that fills Ticket.search_vector, and GIN indexes for search and labels.

SQLite (the embedded default) has neither; there search and label filters fall back to plain scans.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION tickets_ticket_search_vector_update() RETURNS trigger AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector('english', coalesce(NEW.key, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.title, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(NEW.description, '')), 'B');
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tickets_ticket_search_vector_trigger
BEFORE INSERT OR UPDATE OF key, title, description ON tickets_ticket
FOR EACH ROW EXECUTE FUNCTION tickets_ticket_search_vector_update();

CREATE INDEX ticket_search_vector ON tickets_ticket USING gin (search_vector);
CREATE INDEX ticket_labels ON tickets_ticket USING gin (labels jsonb_path_ops);
"""

BACKWARD = """
DROP INDEX IF EXISTS ticket_labels;
DROP INDEX IF EXISTS ticket_search_vector;
DROP TRIGGER IF EXISTS tickets_ticket_search_vector_trigger ON tickets_ticket;
DROP FUNCTION IF EXISTS tickets_ticket_search_vector_update();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD))]
