"""The embedding interface: `embed(windows) -> (n, 512)` for raw OHLCV windows ending at t."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod

import numpy as np

EMBED_DIM = 512


class EmbeddingBackend(ABC):
    """A foundation model (or the offline encoder) that maps a window of bars to one vector.

    `embed` receives raw windows (n, lookback, 5: open, high, low, close, volume) and, where the
    backend uses calendar features, their timestamps (n, lookback) as int64 ns. Each backend
    normalises a window with that window's own statistics only.
    """

    name: str = "base"
    dim: int = EMBED_DIM

    @abstractmethod
    def describe(self) -> dict:
        """Backend, model id, package versions and options: recorded with every cache/bundle."""

    @abstractmethod
    def embed(self, windows: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        """(n, L, 5) float windows -> (n, dim) float32."""

    def fingerprint(self) -> str:
        blob = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class NoEmbedding(EmbeddingBackend):
    """The `none` option: no foundation embedding (the ablation of the spec's 512 columns)."""

    name = "none"
    dim = 0

    def describe(self) -> dict:
        return {"backend": "none"}

    def embed(self, windows: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        return np.zeros((len(windows), 0), dtype=np.float32)
