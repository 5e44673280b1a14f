"""Foundation-model embeddings (512-D): chronos, kronos, local (offline encoder) or none."""

from tradeformer.features.foundation.base import EMBED_DIM, EmbeddingBackend, NoEmbedding
from tradeformer.features.foundation.cache import (
    build_embeddings,
    embed_bars,
    load_embeddings,
    make_backend,
)

BACKENDS = ("local", "chronos", "kronos", "none")

__all__ = [
    "BACKENDS",
    "EMBED_DIM",
    "EmbeddingBackend",
    "NoEmbedding",
    "build_embeddings",
    "embed_bars",
    "load_embeddings",
    "make_backend",
]
