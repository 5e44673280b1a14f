"""Amazon Chronos (T5) and Chronos-Bolt encoders via `chronos-forecasting` (extra `chronos`).

The close series of each window goes through the pipeline's own `embed()` (the T5 encoder; its
attention is bidirectional *within* the window, which ends at t) and the encoder states are
mean-pooled over time (the EOS / [REG] token excluded). Chronos scales each window by its own
mean absolute value: nothing outside the window is used.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tradeformer.errors import SourceError
from tradeformer.features.foundation.base import EmbeddingBackend

DEFAULT_MODEL = "amazon/chronos-t5-small"


class ChronosBackend(EmbeddingBackend):
    name = "chronos"

    def __init__(
        self,
        model_id: str | Path = DEFAULT_MODEL,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        try:
            import chronos
            from chronos import BaseChronosPipeline
        except ImportError as e:  # pragma: no cover - extra not installed
            raise SourceError(
                "the chronos backend needs: pip install 'tradeformer[chronos]'"
            ) from e
        self.model_id = str(model_id)
        try:
            self.pipeline = BaseChronosPipeline.from_pretrained(
                self.model_id, device_map=device, dtype=dtype
            )
        except OSError as e:
            raise SourceError(
                f"cannot load Chronos model {self.model_id!r}: give a local directory or a hub "
                f"id reachable from this machine (offline: HF_HUB_OFFLINE=1). {e}"
            ) from e
        self.kind = type(self.pipeline).__name__
        inner = self.pipeline.model
        hf_model = inner.model if self.kind == "ChronosPipeline" else inner
        self.dim = int(hf_model.config.d_model)
        self.reg_token = bool(getattr(getattr(inner, "chronos_config", None), "use_reg_token", 0))
        self.version = getattr(chronos, "__version__", "unknown")

    def describe(self) -> dict:
        return {
            "backend": self.name,
            "model_id": self.model_id,
            "pipeline": self.kind,
            "d_model": self.dim,
            "chronos_forecasting": self.version,
            "pooling": "mean over time steps",
            "series": "close",
        }

    def embed(self, windows: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        close = torch.as_tensor(np.asarray(windows)[..., 3], dtype=torch.float32)
        states, _ = self.pipeline.embed(close)  # (n, T + 1, d) or (n, patches + 1, d)
        states = states.float()
        if self.kind == "ChronosPipeline":
            states = states[:, : close.shape[1]]  # drop the EOS token
        elif self.reg_token:
            states = states[:, :-1]  # drop the [REG] token
        return states.mean(dim=1).numpy().astype(np.float32)
