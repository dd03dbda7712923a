"""`manage.py rebuild_board_summary`: recompute the board's column totals from the opportunities.

Needed only after writes that bypass the model (COPY, bulk_create, queryset.update of amount, stage, owner,
team, currency or forecast category); every ordinary save and delete keeps the summary itself.
"""

from django.core.management.base import BaseCommand

from keyfit.pipeline.summary import rebuild_board_summary


class Command(BaseCommand):
    help = "Recompute the pipeline board's column totals (after bulk loads)."

    def handle(self, *args, **options):
        rows = rebuild_board_summary()
        self.stdout.write(f"{rows} summary rows")
