from django.core.management.base import BaseCommand

from keyfit.leads.services import leads_check_slas


class Command(BaseCommand):
    help = "Detect first-touch SLA breaches of leads, notify and re-assign (run every few minutes from cron)."

    def handle(self, *args, **options):
        total = {"breached": 0, "reassigned": 0}
        while True:
            result = leads_check_slas()
            total["breached"] += result["breached"]
            total["reassigned"] += result["reassigned"]
            if result["breached"] < 5000:
                break
        self.stdout.write(f"{total['breached']} breached, {total['reassigned']} re-assigned")
