from django.core.management.base import BaseCommand

from keyfit.core.demo import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Print the demo logins (demo data only)."

    def handle(self, *args, **options):
        from keyfit.users.models import User

        users = User.objects.filter(email__endswith="@keyfit.demo", is_active=True).order_by("role", "email")
        if not users:
            self.stdout.write("No demo users (run: python manage.py seed_demo).")
            return
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for user in users:
            self.stdout.write(f"  {user.get_role_display():<22} {user.email:<34} {user.full_name}")
