"""A producer's wait for the online router, as one PostgreSQL function (`keyfit.leads.routing`).

``keyfit_route_wait(lock_key, lead)`` tries for the router's session lock; while another producer holds
it, waits for that producer's batch (taking and dropping the lock shared: every waiter wakes at once),
then reads the lead — with a fresh snapshot, so the batch just committed is seen — and returns if the
batch placed it (or left it, or the lead is gone); else tries for the lock again. After 50 rounds it
queues for the lock. It returns whether the caller now holds the lock and, if not, the lead's routing
columns as the batch left them.

A plain function cannot run on SQLite; nothing there calls it.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION keyfit_route_wait(
    lock_key bigint, lead bigint,
    OUT leader boolean, OUT found_lead boolean, OUT waiting boolean,
    OUT owner_id bigint, OUT team_id bigint, OUT assigned_at timestamptz, OUT sla_due_at timestamptz,
    OUT sla_breached_at timestamptz, OUT route_requested boolean, OUT updated_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    attempt integer := 0;
BEGIN
    found_lead := true;
    waiting := true;
    leader := pg_try_advisory_lock(lock_key);
    WHILE NOT leader LOOP
        PERFORM pg_advisory_lock_shared(lock_key);
        PERFORM pg_advisory_unlock_shared(lock_key);
        SELECT l.route_requested AND l.owner_id IS NULL AND l.merged_into_id IS NULL,
               l.owner_id, l.team_id, l.assigned_at, l.sla_due_at, l.sla_breached_at, l.route_requested,
               l.updated_at
          INTO waiting, owner_id, team_id, assigned_at, sla_due_at, sla_breached_at, route_requested,
               updated_at
          FROM leads_lead AS l WHERE l.id = lead;
        found_lead := FOUND;
        IF NOT found_lead OR NOT waiting THEN
            RETURN;
        END IF;
        attempt := attempt + 1;
        IF attempt >= 50 THEN
            PERFORM pg_advisory_lock(lock_key);
            leader := true;
        ELSE
            leader := pg_try_advisory_lock(lock_key);
        END IF;
    END LOOP;
END
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS keyfit_route_wait(bigint, bigint)")


class Migration(migrations.Migration):
    dependencies = [("leads", "0010_lead_status_index_without_new")]

    operations = [migrations.RunPython(forwards, backwards)]
