"""The one error a card that cannot be read raises: a 400 naming the problem."""

from core.errors import ApplicationError


class CardError(ApplicationError):
    """The file is not a card we can read. ``code`` says which problem (docs/cards.md)."""

    status_code = 400
    default_code = "invalid_card"


class CardTooLarge(ApplicationError):
    """Over a documented size limit (HTTP 413)."""

    status_code = 413
    default_code = "card_too_large"
