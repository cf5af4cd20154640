from django.core.management.base import BaseCommand

from scenarios.demo import DEMO_PASSWORD, DEMO_USERNAME, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo user, ecosystem, cast and a playing scenario; run again, restore "
        "the demo characters and lore documents that were deleted and restart the scenario "
        "if none plays."
    )

    def handle(self, *args: object, **options: object) -> None:
        seed = demo_seed()
        verb = "Created" if seed.created else "Kept"
        lines = [
            f"{verb} demo ecosystem '{seed.ecosystem.name}' "
            f"({seed.ecosystem.characters.count()} characters)."
        ]
        if seed.restored_characters:
            count = len(seed.restored_characters)
            lines.append(
                f"Restored {count} deleted demo character{'s' if count != 1 else ''}: "
                f"{', '.join(seed.restored_characters)}."
            )
        for scenario in seed.ended_scenarios:
            lines.append(f"Ended scenario '{scenario.title}': its cast was gone.")
        if seed.started_scenario is not None:
            scenario = seed.started_scenario
            lines.append(
                f"Started scenario '{scenario.title}' with "
                f"{scenario.participants.count()} characters."
            )
        if seed.added_lore:
            count = len(seed.added_lore)
            lines.append(
                f"Added {count} lore document{'s' if count != 1 else ''}: "
                f"{', '.join(seed.added_lore)}."
            )
        lines.append(f"Log in as  user: {DEMO_USERNAME}  password: {DEMO_PASSWORD}")
        self.stdout.write("\n".join(lines))
