"""Kronos-small, the OHLCV-native foundation model, via `kronos-finance` (extra `kronos`).

Each window (open, high, low, close, volume, amount = volume x mean price) is z-scored with its
own mean/std and clipped at +-5, as Kronos' predictor does; the tokenizer encodes it
(`encode(x, half=True)` -> s1/s2 ids) and `Kronos.decode_s1` returns the transformer's hidden
states (d_model 512), mean-pooled over time. Calendar stamps (minute, hour, weekday, day,
month) come from the bars' timestamps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tradeformer.errors import SourceError
from tradeformer.features.foundation.base import EmbeddingBackend

DEFAULT_MODEL = "NeoQuasar/Kronos-small"
DEFAULT_TOKENIZER = "NeoQuasar/Kronos-Tokenizer-base"
CLIP = 5.0


def kronos_classes():
    try:
        from kronos_finance._vendor.kronos_model import Kronos, KronosTokenizer
    except ImportError as e:  # pragma: no cover - extra not installed
        raise SourceError("the kronos backend needs: pip install 'tradeformer[kronos]'") from e
    return Kronos, KronosTokenizer


def time_stamps(ts_ns: np.ndarray) -> np.ndarray:
    """(n, L) int64 ns -> (n, L, 5) minute, hour, weekday, day, month."""
    idx = pd.DatetimeIndex(ts_ns.reshape(-1).astype("datetime64[ns]"))
    cols = [idx.minute, idx.hour, idx.day_of_week, idx.day, idx.month]
    return np.stack([np.asarray(c) for c in cols], axis=-1).reshape(*ts_ns.shape, 5)


class KronosBackend(EmbeddingBackend):
    name = "kronos"

    def __init__(
        self,
        model_id: str | Path = DEFAULT_MODEL,
        tokenizer_id: str | Path = DEFAULT_TOKENIZER,
        device: str = "cpu",
    ):
        kronos_cls, tokenizer_cls = kronos_classes()
        self.model_id, self.tokenizer_id, self.device = str(model_id), str(tokenizer_id), device
        try:
            self.tokenizer = tokenizer_cls.from_pretrained(self.tokenizer_id).to(device).eval()
            self.model = kronos_cls.from_pretrained(self.model_id).to(device).eval()
        except OSError as e:
            raise SourceError(
                f"cannot load Kronos {self.model_id!r} / {self.tokenizer_id!r}: {e}"
            ) from e
        self.dim = int(self.model.d_model)

    def describe(self) -> dict:
        from importlib.metadata import version

        return {
            "backend": self.name,
            "model_id": self.model_id,
            "tokenizer_id": self.tokenizer_id,
            "d_model": self.dim,
            "kronos_finance": version("kronos-finance"),
            "pooling": "mean over time steps of decode_s1 hidden states",
        }

    @torch.no_grad()
    def embed(self, windows: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        w = np.asarray(windows, dtype=np.float64)
        amount = w[..., 4:5] * w[..., :4].mean(axis=-1, keepdims=True)
        x = np.concatenate([w, amount], axis=-1)
        mean, std = x.mean(axis=1, keepdims=True), x.std(axis=1, keepdims=True)
        x = np.clip((x - mean) / (std + 1e-5), -CLIP, CLIP)
        xt = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        s1, s2 = self.tokenizer.encode(xt, half=True)
        stamp = None
        if timestamps is not None:
            stamp = torch.as_tensor(
                time_stamps(timestamps), dtype=torch.float32, device=self.device
            )
        _, hidden = self.model.decode_s1(s1, s2, stamp)
        return hidden.mean(dim=1).float().cpu().numpy()
