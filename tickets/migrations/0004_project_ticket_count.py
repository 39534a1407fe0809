"""Project.ticket_count, kept by PostgreSQL triggers on tickets_ticket, so the unfiltered list need not COUNT(*).

Statement-level triggers with transition tables: a bulk INSERT or COPY (seed_demo) or a cascade
DELETE (a project's deletion) updates each project row once, not once per ticket. The project rows
are locked in id order before they are updated, so two multi-project statements queue instead of
deadlocking. A single ticket's creation already holds its project row (`FOR NO KEY UPDATE`, the
number counter) when the trigger runs; a deletion takes that same lock in the trigger, before the
event lock, the order creation takes them in. Only these triggers may change the count (see the
guard at the end). SQLite (the embedded default) has no such triggers:
the list counts with COUNT(*) there (tickets.selectors.ticket_count).
"""

from django.db import migrations, models

FORWARD = """
CREATE FUNCTION tickets_ticket_count_add() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM tickets_project WHERE id IN (SELECT project_id FROM added_tickets)
        ORDER BY id FOR NO KEY UPDATE;
    UPDATE tickets_project SET ticket_count = ticket_count + added.n
    FROM (SELECT project_id, count(*) AS n FROM added_tickets GROUP BY project_id) AS added
    WHERE tickets_project.id = added.project_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION tickets_ticket_count_remove() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM tickets_project WHERE id IN (SELECT project_id FROM removed_tickets)
        ORDER BY id FOR NO KEY UPDATE;
    UPDATE tickets_project SET ticket_count = ticket_count - removed.n
    FROM (SELECT project_id, count(*) AS n FROM removed_tickets GROUP BY project_id) AS removed
    WHERE tickets_project.id = removed.project_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION tickets_ticket_count_move() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM tickets_project WHERE id IN (OLD.project_id, NEW.project_id) ORDER BY id FOR NO KEY UPDATE;
    UPDATE tickets_project SET ticket_count = ticket_count - 1 WHERE id = OLD.project_id;
    UPDATE tickets_project SET ticket_count = ticket_count + 1 WHERE id = NEW.project_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tickets_ticket_count_add AFTER INSERT ON tickets_ticket
REFERENCING NEW TABLE AS added_tickets
FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_count_add();

CREATE TRIGGER tickets_ticket_count_remove AFTER DELETE ON tickets_ticket
REFERENCING OLD TABLE AS removed_tickets
FOR EACH STATEMENT EXECUTE FUNCTION tickets_ticket_count_remove();

-- The API never moves a ticket; the admin or a shell might.
CREATE TRIGGER tickets_ticket_count_move AFTER UPDATE OF project_id ON tickets_ticket
FOR EACH ROW WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id)
EXECUTE FUNCTION tickets_ticket_count_move();

-- Existing rows: no ticket may come or go between the count and the triggers taking over.
LOCK TABLE tickets_ticket IN SHARE MODE;
UPDATE tickets_project SET ticket_count = (
    SELECT count(*) FROM tickets_ticket WHERE tickets_ticket.project_id = tickets_project.id
);

-- From here on only the triggers above write the count: a Django save() of a whole Project (the admin)
-- writes back the value it read, which a ticket created meanwhile has made stale. Their UPDATE runs
-- inside a trigger (depth 2 and more); any other keeps the stored value.
CREATE FUNCTION tickets_project_ticket_count_keep() RETURNS trigger AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        NEW.ticket_count := OLD.ticket_count;
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER tickets_project_ticket_count_keep BEFORE UPDATE OF ticket_count ON tickets_project
FOR EACH ROW WHEN (OLD.ticket_count IS DISTINCT FROM NEW.ticket_count)
EXECUTE FUNCTION tickets_project_ticket_count_keep();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tickets_project_ticket_count_keep ON tickets_project;
DROP FUNCTION IF EXISTS tickets_project_ticket_count_keep();
DROP TRIGGER IF EXISTS tickets_ticket_count_move ON tickets_ticket;
DROP TRIGGER IF EXISTS tickets_ticket_count_remove ON tickets_ticket;
DROP TRIGGER IF EXISTS tickets_ticket_count_add ON tickets_ticket;
DROP FUNCTION IF EXISTS tickets_ticket_count_move();
DROP FUNCTION IF EXISTS tickets_ticket_count_remove();
DROP FUNCTION IF EXISTS tickets_ticket_count_add();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_event_published_at")]

    operations = [
        migrations.AddField(
            model_name="project",
            name="ticket_count",
            field=models.IntegerField(default=0, db_default=0, editable=False),
        ),
        migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD)),
    ]
