"""The open-lead trigger of PostgreSQL (0006) can be told to leave one statement to its caller.

Bulk routing writes a batch's leads before it takes the team locks (speculatively, confirmed under the
locks); counting the new owners' open leads there would lock their counter rows before the team rows —
the reverse of every other router's order, a deadlock. With ``keyfit.ownerload_deferred`` set to ``on``
(``SET LOCAL``, for that statement) the trigger does nothing, and routing adds the same counts itself
after the team locks (`keyfit.leads.routing._add_open_leads`).
"""

import importlib

from django.db import migrations

# the trigger function as migration 0006 created it (history: that module does not change)
old = importlib.import_module("keyfit.leads.migrations.0006_routing_config_version_owner_load")

DEFERRED_CHECK = """
    IF current_setting('keyfit.ownerload_deferred', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'TRUNCATE' THEN"""


def deferrable_function() -> str:
    function = old.PG_FUNCTION.split("CREATE TRIGGER", 1)[0]
    assert function.count("    IF TG_OP = 'TRUNCATE' THEN") == 1
    return function.replace("\n    IF TG_OP = 'TRUNCATE' THEN", DEFERRED_CHECK, 1)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(deferrable_function())


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(old.PG_FUNCTION.split("CREATE TRIGGER", 1)[0])


class Migration(migrations.Migration):
    dependencies = [("leads", "0008_lead_dedupe_hash_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
