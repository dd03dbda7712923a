"""The status list index leaves out "new" leads.

A routing UPDATE changes indexed columns, so it is never HOT: every index of ``leads_lead`` gets an entry
for every routed lead, and so does every intake. New leads are the recent ones, which the list ordered
by creation finds by walking ``lead_created_idx``; the status index serves the other statuses.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_list_filter_and_prefix_indexes'),
        ('leads', '0009_ownerload_trigger_deferrable'),
        ('users', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='lead',
            name='lead_status_idx',
        ),
        migrations.AddIndex(
            model_name='lead',
            index=models.Index(condition=models.Q(('status', 'new'), _negated=True), fields=['status', '-created_at', '-id'], name='lead_status_idx'),
        ),
    ]
