"""Character Cards (V1 TavernAI, V2 ``chara_card_v2``, V3 ``chara_card_v3``): read them from
JSON, PNG/APNG and CHARX, score their free-text personality into Big Five, and write them
back out. Pure code: no ORM; ``characters/services.py`` turns a parsed card into a row.
docs/cards.md has the formats, the field mapping, the limits and the errors."""
