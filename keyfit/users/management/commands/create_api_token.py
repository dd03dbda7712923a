from django.core.management.base import BaseCommand, CommandError

from keyfit.users.models import User
from keyfit.users.services import api_token_create


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="CLI")

    def handle(self, *args, email, name, **options):
        user = User.objects.filter(email=email.strip().lower(), is_active=True).first()
        if user is None:
            raise CommandError(f"No active user with e-mail {email}.")
        _, raw = api_token_create(user=user, name=name)
        self.stdout.write(raw)
