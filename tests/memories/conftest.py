import pytest

from core.embeddings import configured_model_name
from memories import services


@pytest.fixture(autouse=True, scope="session")
def embedding_model_loaded() -> None:
    """Loaded up front, as a server's first interaction outside a transaction does: the
    tests run inside one, where the model is never loaded (memories.services)."""
    assert services._load(configured_model_name()) is not None
