from django.core.management.base import BaseCommand

from scenarios.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_seed


class Command(BaseCommand):
    help = "Create the demo user, ecosystem, cast and a playing scenario (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        seed = demo_seed()
        verb = "Created" if seed.created else "Kept"
        self.stdout.write(
            f"{verb} demo ecosystem '{seed.ecosystem.name}' "
            f"({seed.ecosystem.characters.count()} characters).\n"
            f"Log in as  user: {DEMO_USERNAME}  password: {DEMO_PASSWORD}"
        )
