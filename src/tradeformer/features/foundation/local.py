"""`local`: an offline 512-D encoder trained self-supervised on the user's training period.

Masked patch modelling (SimMIM-style): the window (relative OHLCV, see
`features.windows.relative_ohlcv`, scaled per channel by training statistics) is cut into
patches, ~40 % of them are replaced by a learned mask token, a small transformer encodes the
sequence and a head rebuilds the masked patches from their output states. The embedding of a
window (nothing masked) pools the final states into 4 x d_model = 512 values: mean, max, the
last patch (the bars up to t) and the mean of the last three patches. Weights and the scaler
are saved as safetensors next to the embedding cache.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from tradeformer.errors import ConfigError
from tradeformer.execution.memory import trim_heap
from tradeformer.features.foundation.base import EMBED_DIM, EmbeddingBackend
from tradeformer.features.windows import gather, relative_ohlcv


@dataclass(frozen=True)
class LocalEncoderConfig:
    lookback: int = 120
    patch_len: int = 10
    channels: int = 5
    d_model: int = EMBED_DIM // 4
    n_layers: int = 2
    n_heads: int = 4
    out_dim: int = EMBED_DIM
    mask_ratio: float = 0.4
    steps: int = 1500
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0


class MaskedPatchEncoder(nn.Module):
    def __init__(self, c: LocalEncoderConfig):
        super().__init__()
        if c.lookback % c.patch_len:
            raise ValueError("lookback must be a multiple of patch_len")
        self.c = c
        self.n_patches = c.lookback // c.patch_len
        width = c.patch_len * c.channels
        self.patch = nn.Linear(width, c.d_model)
        self.pos = nn.Parameter(torch.randn(self.n_patches, c.d_model) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(c.d_model))
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.n_heads, 2 * c.d_model, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, c.n_layers, enable_nested_tensor=False)
        if c.out_dim != 4 * c.d_model:
            raise ValueError("out_dim must be 4 * d_model (mean, max, last, last-3 pooling)")
        self.norm = nn.LayerNorm(c.d_model)
        self.decoder = nn.Sequential(
            nn.LayerNorm(c.d_model),
            nn.Linear(c.d_model, 2 * c.d_model),
            nn.GELU(),
            nn.Linear(2 * c.d_model, width),
        )
        self.register_buffer("scale", torch.ones(c.channels))

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        x = x / self.scale
        return x.view(b, self.n_patches, self.c.patch_len * self.c.channels)

    def states(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.patch(self.patches(x))
        if mask is not None:
            tokens = torch.where(mask.unsqueeze(-1), self.mask_token.expand_as(tokens), tokens)
        return self.norm(self.encoder(tokens + self.pos))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.states(x)
        pooled = [h.mean(dim=1), h.amax(dim=1), h[:, -1], h[:, -3:].mean(dim=1)]
        return torch.cat(pooled, dim=-1)

    def masked_loss(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        target = self.patches(x)
        pred = self.decoder(self.states(x, mask))
        err = ((pred - target) ** 2).mean(-1)
        return (err * mask).sum() / mask.sum().clamp_min(1)


def random_mask(b: int, p: int, ratio: float, gen: torch.Generator) -> torch.Tensor:
    n_mask = max(1, round(ratio * p))
    order = torch.rand(b, p, generator=gen).argsort(dim=1)
    mask = torch.zeros(b, p, dtype=torch.bool)
    mask.scatter_(1, order[:, :n_mask], True)
    return mask


class WindowSampler:
    """Random windows from several symbols' bars (only the allowed window ends)."""

    def __init__(self, arrays: list[np.ndarray], ends: list[np.ndarray], lookback: int):
        self.arrays, self.ends, self.lookback = arrays, ends, lookback
        sizes = np.array([len(e) for e in ends], dtype=np.float64)
        if sizes.sum() == 0:
            raise ConfigError(
                "no training windows: is the training period shorter than the lookback?"
            )
        self.p = sizes / sizes.sum()

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        which = rng.choice(len(self.arrays), size=n, p=self.p)
        out = np.empty((n, self.lookback, 5), dtype=np.float32)
        for k in np.unique(which):
            sel = np.flatnonzero(which == k)
            ends = rng.choice(self.ends[k], size=sel.size)
            out[sel] = relative_ohlcv(gather(self.arrays[k], ends, self.lookback))
        return out


def naive_baselines(x: np.ndarray, mask: np.ndarray, model: MaskedPatchEncoder) -> dict:
    """MSE of masked patches (model's scaled units) predicted naively from the same window:
    zeros (the window's reference level), the mean of the visible bars, and linear
    interpolation of every channel between the nearest visible bars."""
    c = model.c
    with torch.no_grad():
        target = model.patches(torch.as_tensor(x)).numpy()
    m = mask.astype(bool)

    def mse(pred: np.ndarray) -> float:
        return float((((target - pred) ** 2).mean(-1) * m).sum() / m.sum())

    vis = np.where(~m[..., None], target, np.nan)
    bars = target.reshape(len(x), c.lookback, c.channels)
    bar_mask = np.repeat(m, c.patch_len, axis=1)
    pos = np.arange(c.lookback)
    interp = np.empty_like(bars)
    for i in range(len(x)):
        seen = ~bar_mask[i]
        for ch in range(c.channels):
            interp[i, :, ch] = np.interp(pos, pos[seen], bars[i, seen, ch])
    return {
        "zeros": mse(np.zeros_like(target)),
        "visible_mean": mse(np.nanmean(vis, axis=1, keepdims=True)),
        "interpolation": mse(interp.reshape(target.shape)),
    }


class LocalBackend(EmbeddingBackend):
    """Embeds with a trained MaskedPatchEncoder (see `fit`, `save`, `load`)."""

    name = "local"

    def __init__(self, model: MaskedPatchEncoder, meta: dict | None = None):
        self.model = model.eval()
        self.meta = meta or {}
        self.dim = model.c.out_dim

    def describe(self) -> dict:
        return {"backend": self.name, "config": asdict(self.model.c), **self.meta}

    @torch.no_grad()
    def embed(self, windows: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        x = torch.as_tensor(relative_ohlcv(windows))
        return self.model.embed(x).numpy().astype(np.float32)

    @classmethod
    def fit(
        cls,
        train: WindowSampler,
        heldout: WindowSampler | None = None,
        config: LocalEncoderConfig | None = None,
        progress: bool = True,
    ) -> LocalBackend:
        """Train on windows that end inside the training period; report held-out losses."""
        c = config or LocalEncoderConfig()
        torch.manual_seed(c.seed)
        rng = np.random.default_rng(c.seed)
        gen = torch.Generator().manual_seed(c.seed)
        model = MaskedPatchEncoder(c)
        probe = train.sample(4096, rng)
        model.scale.copy_(torch.as_tensor(probe.reshape(-1, c.channels).std(axis=0) + 1e-6))
        opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / 100) * 0.5 * (1 + math.cos(math.pi * s / c.steps))
        )
        history = []
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("training local encoder", total=c.steps)
            for step in range(c.steps):
                x = torch.as_tensor(train.sample(c.batch_size, rng))
                mask = random_mask(len(x), model.n_patches, c.mask_ratio, gen)
                loss = model.masked_loss(x, mask)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                if step % 100 == 0 or step == c.steps - 1:
                    history.append((step, float(loss.detach())))
                    trim_heap()  # freed batches back to the OS (glibc keeps them)
                bar.advance(task)
        meta = {"train_loss": history[-1][1], "history": history}
        if heldout is not None:
            meta["heldout"] = evaluate(model, heldout, c)
        return cls(model.eval(), meta)

    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in self.model.state_dict().items()},
            folder / "model.safetensors",
        )
        (folder / "config.json").write_text(
            json.dumps({"config": asdict(self.model.c), "meta": self.meta}, indent=2)
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> LocalBackend:
        from safetensors.torch import load_file

        folder = Path(folder)
        info = json.loads((folder / "config.json").read_text())
        model = MaskedPatchEncoder(LocalEncoderConfig(**info["config"]))
        model.load_state_dict(load_file(folder / "model.safetensors"))
        return cls(model, info.get("meta"))


@torch.no_grad()
def evaluate(model: MaskedPatchEncoder, sampler: WindowSampler, c: LocalEncoderConfig) -> dict:
    """Masked-patch MSE on held-out windows next to the two naive baselines."""
    rng = np.random.default_rng(c.seed + 1)
    gen = torch.Generator().manual_seed(c.seed + 1)
    x = sampler.sample(2048, rng)
    mask = random_mask(len(x), model.n_patches, c.mask_ratio, gen)
    loss = float(model.masked_loss(torch.as_tensor(x), mask))
    return {"masked_mse": loss, **naive_baselines(x, mask.numpy(), model)}
