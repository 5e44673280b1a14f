"""`Predictor`: a bundle loaded once, predicting the next trade from bars.

Features, embeddings, windows, scaling, both networks, the veto and the decision all go through
the training code (`classical_arrays`, the bundle's embedding backend, `assemble_universe`,
`make_batch`, `trainer.predict`, `veto_features`, `decide`): there is no second implementation.
Many symbols are predicted in one batched pass: their bars form one (symbols, bars) panel, so
the features are computed for all of them at once, and each network runs once.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.bundle import Bundle, BundleError, load_bundle
from tradeformer.config import EnsembleConfig, NormalizationConfig, TargetConfig
from tradeformer.data.batch import load_frames
from tradeformer.data.loading import LoadedBars
from tradeformer.data.schema import Timeframe
from tradeformer.data.store import BarStore
from tradeformer.dataset.cross_section import apply_cross_section, date_codes
from tradeformer.dataset.summaries import YEAR
from tradeformer.dataset.universe import assemble_universe
from tradeformer.errors import DataError, InputError, NotFoundError
from tradeformer.execution import Engine
from tradeformer.features.columns import CLASSICAL_COLUMNS, WARMUP_BARS
from tradeformer.features.foundation.base import EmbeddingBackend, NoEmbedding
from tradeformer.features.mtf import intraday_alignment
from tradeformer.features.panel import BarPanel, classical_arrays
from tradeformer.features.pipeline import FeatureConfig, intraday_timeframe
from tradeformer.features.windows import OHLCV
from tradeformer.training.columns import prediction_column
from tradeformer.training.ensemble import decision_columns, member_outputs
from tradeformer.training.frames import FRAME_OUTPUTS
from tradeformer.training.prediction import predict_models
from tradeformer.training.veto import veto_features

log = logging.getLogger(__name__)


def member_columns(
    preds: dict, horizons: tuple[int, ...], diagnostics: dict[str, tuple[str, ...]]
) -> dict[str, np.ndarray]:
    """Every member's return, P(up) and std at every horizon, and its own diagnostics
    (`tft_q_range_10`, `timeformer_attn_entropy`), named by `prediction_column`."""
    out: dict[str, np.ndarray] = {}
    for name, p in preds.items():
        for j, h in enumerate(horizons):
            for key, quantity in FRAME_OUTPUTS:
                out[prediction_column(name, quantity, h)] = p[key][:, j]
        for d in diagnostics[name]:
            v = p[d]
            if v.ndim == 2:
                out.update({prediction_column(name, d, h): v[:, j] for j, h in enumerate(horizons)})
            else:
                out[prediction_column(name, d)] = v
    return out


class Predictor:
    def __init__(self, bundle: Bundle, embedder: EmbeddingBackend):
        self.bundle = bundle
        self.embedder = embedder
        cfg = bundle.manifest["config"]
        self.features = FeatureConfig(**cfg["features"])
        self.ensemble = EnsembleConfig(**cfg["ensemble"])
        decision = bundle.manifest.get("decision", {})
        self.threshold = float(decision.get("threshold", cfg["veto"]["threshold"]))
        # cross-sectional bundles rank a symbol within the date's cross-section of the
        # training universe: every prediction computes (or reuses) all of its symbols
        self.cross_sectional = bool(decision.get("cross_sectional", False))
        self.universe: list[str] = list(decision.get("universe", []))
        self.normalization = NormalizationConfig(**cfg.get("normalization", {}))
        self.target = str(decision.get("target", "raw"))
        self.diagnostics = {n: m.veto_diagnostics for n, m in bundle.members.items()}
        self.lookback = bundle.lookback
        self.horizons = bundle.horizons
        # the networks' warm-up and window; a boosted member's 52-week columns need a year
        history = [getattr(m, "history_bars", 0) for m in bundle.members.values()]
        if self.normalization.price_summaries:  # every bar of the window needs its year
            history.append(YEAR + 1 + self.lookback)
        self.min_bars = max(WARMUP_BARS + self.lookback, *history)
        self.tail_shape = (self.lookback, self.min_bars)  # tail_features' (lookback, keep)
        self.last_timing: dict[str, float] = {}  # seconds per stage of the latest call
        # store symbols kept in memory: bars (`_read`) and feature rows (`_cached_features`),
        # each cache bounded in entries and in bytes (oldest dropped first)
        self.cache_limit = 1000
        self.cache_bytes = 512 * 2**20
        self._bars_cache: dict[str, tuple] = {}
        self._feature_cache: dict[tuple, tuple] = {}
        self.engine: Engine | None = None  # where batch features run (None: this process)

    @classmethod
    def load(cls, bundle_dir: str | Path, **backend_kw) -> Predictor:
        """Verify and load a bundle, and the embedding backend it was trained with."""
        bundle = load_bundle(bundle_dir)
        info = bundle.manifest["embedding"]
        backend = info.get("backend", "none")
        if backend == "none":
            embedder: EmbeddingBackend = NoEmbedding()
        elif backend == "local":
            from tradeformer.features.foundation.local import LocalBackend

            embedder = LocalBackend.load(Path(bundle_dir) / "embedding_model")
        else:
            from tradeformer.features.foundation.cache import make_backend

            d = info.get("describe", {})
            embedder = make_backend(
                backend,
                model_id=d.get("model_id"),
                tokenizer_id=d.get("tokenizer_id"),
                **backend_kw,
            )
        if embedder.dim != bundle.manifest["schema"]["embedding_dim"]:
            raise BundleError(
                f"embedding backend gives {embedder.dim} dims, the bundle expects "
                f"{bundle.manifest['schema']['embedding_dim']}"
            )
        return cls(bundle, embedder)

    # ------------------------------------------------------------------ inputs
    def validate(self, bars_by_symbol: dict[str, pd.DataFrame]) -> LoadedBars:
        """Normalise and validate raw bars exactly as `tradeformer data` does (reject policy),
        all symbols in one pass (`load_frames`)."""
        return load_frames(bars_by_symbol, source="request", min_bars=self.min_bars)

    # ------------------------------------------------------------------ prediction
    def predict_bars(self, bars_by_symbol: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """One row per symbol: the decision for the bar after the last given bar."""
        t0 = time.perf_counter()
        if self.cross_sectional:
            missing = sorted(set(self.universe) - set(bars_by_symbol))
            if missing:
                raise InputError(
                    f"this bundle ranks symbols within the cross-section of its "
                    f"{len(self.universe)}-symbol training universe: send bars of every "
                    f"universe symbol, or predict from a store (missing {len(missing)}: "
                    f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''})"
                )
            outside = sorted(set(bars_by_symbol) - set(self.universe))
            if outside:
                raise InputError(
                    f"outside this cross-sectional bundle's {len(self.universe)}-symbol training "
                    f"universe: {_listed(outside)} (they would shift every symbol's rank)"
                )
        loaded = self.validate(bars_by_symbol)
        t_valid = time.perf_counter() - t0
        out = self._predict_validated(loaded.bars, loaded.timeframes)
        self.last_timing = {"validation": t_valid, **self.last_timing}
        self.last_timing["total"] += t_valid
        return out

    def resolve_symbols(
        self,
        store_dir: str | Path,
        symbols: list[str] | None = None,
        timeframe: str | None = None,
        *,
        name: str | None = None,
    ) -> tuple[list[str], list[str]]:
        """(store symbols to predict, requested symbols not in the store). Matching ignores
        case (`aapl` is `AAPL`). Without `symbols`: every store symbol, or for a
        cross-sectional bundle its universe (other store symbols are left out, logged).
        A cross-sectional bundle refuses symbols outside its training universe (InputError):
        their rank would mix names it never saw into its cross-section."""
        where = name or str(store_dir)
        store = BarStore(store_dir)
        entries = store.manifest["entries"]
        tf = timeframe or store.default_timeframe()
        if tf not in entries:
            raise NotFoundError(f"timeframe {tf!r} not in {where} (has {list(entries)})")
        have = {s.upper(): s for s in entries[tf]}
        if not symbols:
            wanted = sorted(entries[tf])
            if self.cross_sectional:
                extra = sorted(set(wanted) - set(self.universe))
                if extra:
                    log.warning(
                        "%d symbol(s) of %s are outside the bundle's %d-symbol training "
                        "universe and not predicted: %s",
                        len(extra),
                        where,
                        len(self.universe),
                        _listed(extra),
                    )
                wanted = [s for s in wanted if s in set(self.universe)]
            return wanted, []
        found = [exact if (exact := s) in entries[tf] else have.get(s.upper()) for s in symbols]
        unknown = [s for s, f in zip(symbols, found, strict=True) if f is None]
        known = list(dict.fromkeys(f for f in found if f is not None))
        if self.cross_sectional:
            outside = [s for s in known if s not in set(self.universe)]
            if outside:
                raise InputError(
                    f"outside this cross-sectional bundle's {len(self.universe)}-symbol training "
                    f"universe: {_listed(outside)} (its scores rank a symbol among the universe "
                    "it was trained on; retrain with these names to rank them)"
                )
        return known, unknown

    def predict_store(
        self,
        store_dir: str | Path,
        symbols: list[str] | None = None,
        timeframe: str | None = None,
        *,
        name: str | None = None,
        until: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """One row per symbol from a store's latest bars (those stamped at or before `until`
        when given: the prediction as it was made then); `name` (e.g. the user's `--data`)
        is what error messages call the store. Unknown symbols raise NotFoundError."""
        t0 = time.perf_counter()
        where = name or str(store_dir)
        wanted, unknown = self.resolve_symbols(store_dir, symbols, timeframe, name=name)
        if unknown:
            raise NotFoundError(f"not in {where}: {_listed(unknown)}")
        store = BarStore(store_dir)
        entries = store.manifest["entries"]  # read once per call
        tf = timeframe or store.default_timeframe()
        syms = wanted
        if self.cross_sectional:  # the whole training universe, the requested ones returned
            syms = sorted(set(self.universe) | set(wanted))
        missing = sorted(set(syms) - set(entries[tf]))
        if missing:
            why = " (the bundle's training universe)" if self.cross_sectional else ""
            raise NotFoundError(f"not in {where} ({tf}){why}: {_listed(missing)}")
        # the whole history, as in training: a tail would change the EMA-based columns (a
        # 290-bar tail flips mtf_1M on the last bar of 17 of the 100 daily symbols)
        bars, stamps = {}, {}
        for s in syms:
            bars[s], stamps[s] = self._read(store, entries, tf, s, until)
        short = [s for s, b in bars.items() if len(b) < self.min_bars]
        if short:
            raise DataError(f"need at least {self.min_bars} bars: {', '.join(short)}")
        # intraday bars in the store feed the 4H/1H columns, exactly as in `build_features`
        use = self.features.use_intraday
        fine = {s: intraday_timeframe(store, s, tf, entries) if use else None for s in syms}
        intraday = {}
        for s, f in fine.items():
            if f:  # intraday bars of the `until` session belong to its bar
                end = None if until is None else until.normalize() + pd.Timedelta(days=1)
                frame, stamp = self._read(store, entries, f, s, end, inclusive=False)
                intraday[s] = (frame, f)
                stamps[s] = (*stamps[s], f, stamp)
        t_read = time.perf_counter() - t0
        out = self._predict_validated(bars, {s: tf for s in syms}, intraday, stamps)
        if self.cross_sectional:
            out = out.set_index("symbol").loc[list(wanted)].reset_index()
        self.last_timing = {"read": t_read, **self.last_timing}
        self.last_timing["total"] += t_read
        return out

    def _read(
        self,
        store: BarStore,
        entries: dict,
        tf: str,
        symbol: str,
        until: pd.Timestamp | None = None,
        inclusive: bool = True,
    ) -> tuple[pd.DataFrame, tuple]:
        """A symbol's bars from a store (up to `until`) and the stamp they were read under
        (the manifest's content hash, the file's mtime and size, `until`). Kept in memory
        while the stamp holds (a Parquet read costs ~3 ms per symbol; a long-running service
        re-reads only what the store rewrote); at most `cache_limit` frames and `cache_bytes`."""
        e = entries[tf][symbol]
        path = store.root / e["file"]
        st = path.stat()
        stamp = (str(path.resolve()), e.get("sha256"), st.st_mtime_ns, st.st_size)
        hit = self._bars_cache.get(stamp[0])  # ((stamp, frame), size)
        if hit is not None and hit[0][0] == stamp:
            frame = hit[0][1]
        else:
            frame = pd.read_parquet(path)
            size = int(frame.memory_usage(index=False).sum())
            entry = (stamp, frame)
            _put(self._bars_cache, stamp[0], entry, size, self.cache_limit, self.cache_bytes)
        if until is None:
            return frame, stamp
        ts = frame["timestamp"]
        keep = ts <= until if inclusive else ts < until
        return frame[keep.to_numpy()].reset_index(drop=True), (*stamp, str(until))

    def clear_cache(self) -> None:
        """Forget cached store bars and features (benchmarks measure cold calls with it)."""
        self._bars_cache.clear()
        self._feature_cache.clear()

    def _predict_validated(
        self,
        bars: dict[str, pd.DataFrame],
        tfs: dict[str, str],
        intraday: dict[str, tuple[pd.DataFrame, str]] | None = None,
        stamps: dict[str, tuple] | None = None,
    ):
        t0 = time.perf_counter()
        timing = {"features": 0.0, "embedding": 0.0}
        ctx, px, ts = self._cached_features(bars, tfs, intraday or {}, stamps or {})
        t1 = time.perf_counter()
        timing["features"] = t1 - t0
        n_sym, keep = ts.shape
        last = np.arange(1, n_sym + 1) * keep - 1  # each symbol's last bar in the universe
        emb = np.zeros((n_sym * keep, self.embedder.dim), dtype="float32")
        if self.embedder.dim:  # one batched call for the last window of every symbol
            windows = np.ascontiguousarray(px[:, -self.lookback :])
            times = np.ascontiguousarray(ts[:, -self.lookback :])
            emb[last] = self.embedder.embed(windows, times)
        has_emb = np.zeros(n_sym * keep, dtype=bool)
        has_emb[last] = True
        timing["embedding"] = time.perf_counter() - t1
        nan_labels = np.full((n_sym * keep, len(self.horizons)), np.nan, dtype="float32")
        u = assemble_universe(
            list(bars),
            np.full(n_sym, keep),
            ts.reshape(-1),
            px.reshape(-1, px.shape[-1]),
            ctx.reshape(-1, ctx.shape[-1]),
            emb,
            nan_labels,
            nan_labels,
            horizons=self.horizons,
            lookback=self.lookback,
            has_embedding=has_emb,
        )
        rows = last
        if self.cross_sectional:  # the same per-date transforms as training
            u = apply_cross_section(
                u, TargetConfig(), self.normalization, embedding_rows=np.flatnonzero(has_emb)
            )
        if not u.eligible[rows].all():
            bad = [u.symbols[i] for i in np.flatnonzero(~u.eligible[rows])]
            raise DataError(f"features not available at the last bar of: {', '.join(bad)}")
        b = self.bundle
        outs = predict_models(list(b.members.values()), u, rows, self.lookback, b.scaler)
        preds = dict(zip(b.members, outs, strict=True))
        hi = self.horizons.index(self.ensemble.horizon)
        # the veto sees the raw (unscaled) inputs, as in training
        x = veto_features(u.context[rows], u.embedding[rows], preds, self.diagnostics, hi)
        veto = b.veto.predict(x)
        codes = date_codes(u.timestamps[rows])
        rets = member_outputs(preds, "ret", hi)
        out = decision_columns(rets, veto, self.ensemble, self.threshold, codes)
        extra = member_columns(preds, self.horizons, self.diagnostics)
        if self.cross_sectional:  # say what the numbers are relative to
            extra["target"] = np.full(len(rows), self.target)
            extra["cross_section_size"] = np.bincount(codes)[codes]
        head = {
            "symbol": u.symbols,
            "timestamp": pd.DatetimeIndex(u.timestamps[rows].astype("M8[ns]")),
        }
        # one construction instead of ~20 column inserts (each a block-manager copy)
        out = pd.DataFrame({**head, **out, **extra})
        if self.cross_sectional:
            out = as_scores(out, self.ensemble.horizon)
        timing["total"] = time.perf_counter() - t0
        timing["models_and_veto"] = timing["total"] - timing["features"] - timing["embedding"]
        self.last_timing = timing
        return out

    def _cached_features(
        self,
        bars: dict[str, pd.DataFrame],
        tfs: dict[str, str],
        intraday: dict[str, tuple[pd.DataFrame, str]],
        stamps: dict[str, tuple],
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_features`, reusing the rows of store symbols whose bars (by stamp) were already
        seen: features are a deterministic function of the bars and the bundle's config."""
        hits = {s: self._feature_cache.get(stamps[s], (None,))[0] for s in bars if s in stamps}
        todo = [s for s in bars if hits.get(s) is None]
        if todo:
            fresh = self._features(todo, bars, tfs, intraday)
            for k, s in enumerate(todo):
                rows = tuple(a[k].copy() for a in fresh)  # not views: the batch can go
                hits[s] = rows
                if s in stamps:
                    size = sum(a.nbytes for a in rows)
                    _put(
                        self._feature_cache,
                        stamps[s],
                        rows,
                        size,
                        self.cache_limit,
                        self.cache_bytes,
                    )
            if len(todo) == len(bars):
                return fresh
        return tuple(np.stack([hits[s][i] for s in bars]) for i in range(3))

    def _features(self, syms: list[str], bars, tfs, intraday) -> tuple[np.ndarray, ...]:
        """`tail_features` of `syms`: here in one vectorised call, or split into chunks of
        symbols over `self.engine` when one is set (e.g. a Dask cluster for a large universe)."""

        def job(part: list[str]) -> tuple:
            inter = {s: intraday[s] for s in part if s in intraday}
            return {s: bars[s] for s in part}, tfs, inter, self.features, *self.tail_shape

        if self.engine is None or len(syms) < 2:
            return tail_features(job(syms))
        n = min(len(syms), 4 * self.engine.workers)
        parts = [list(p) for p in np.array_split(np.array(syms, dtype=object), n)]
        outs = self.engine.map(tail_features, [job(p) for p in parts], label="features")
        return tuple(np.concatenate([o[i] for o in outs]) for i in range(3))


def tail_features(job: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last `keep` rows of every symbol given: context (S, keep, 29) float32, OHLCV
    (S, keep, 5) and timestamps (S, keep), from one panel per timeframe over the whole history
    given (the EMA-based columns need it), with the training code (`classical_arrays`).
    Each symbol's rows depend on its own bars only: any split of the symbols gives the same."""
    bars, tfs, intraday, features, lookback, keep = job
    syms = list(bars)
    ctx = np.empty((len(syms), keep, len(CLASSICAL_COLUMNS)), dtype="float32")
    px = np.empty((len(syms), keep, len(OHLCV)))
    ts = np.empty((len(syms), keep), dtype=np.int64)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(syms):
        groups.setdefault(Timeframe.parse(tfs[s]).value, []).append(i)
    params = features.params()
    for base, idx in groups.items():
        frames = {syms[i]: bars[syms[i]] for i in idx}
        panel = BarPanel.from_frames(frames)
        # the networks read each symbol's last `lookback` rows of context: the costly zone
        # distances are needed there only
        values = classical_arrays(panel, base, *params, start=panel.lengths - lookback)
        for j, s in enumerate(frames):  # 4H/1H from a store's intraday bars, if any
            if s in intraday:
                fine, fine_tf = intraday[s]
                view = values[j, : panel.lengths[j], :5]
                intraday_alignment(view, frames[s], base, fine, fine_tf, params[2])
        rows = np.arange(len(idx))[:, None]
        tail = panel.tail_index(keep)
        ctx[idx] = values[rows, tail]
        px[idx] = panel.ohlcv[rows, tail]
        ts[idx] = panel.timestamps[rows, tail]
    return ctx, px, ts


SCORE_KIND = "cs_rank"  # a cross-sectional bundle's outputs: per-date ranks in [-1, 1]
_RET_COLUMN = re.compile(r"^(?P<member>[a-z][a-z0-9]*)_ret(?P<h>_\d+)?$")


def as_scores(out: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """A cross-sectional bundle's predictions named for what they are: `expected_return` is
    the ensemble's `score` (its per-date rank in [-1, 1], > 0 above the date's median) at
    `score_horizon` bars, each member's `<m>_ret[_h]` its `<m>_score[_h]`; none is a return."""
    names = {"expected_return": "score"}
    for col in out.columns:
        if m := _RET_COLUMN.match(col):
            names[col] = f"{m['member']}_score{m['h'] or ''}"
    out = out.rename(columns=names)
    at = out.columns.get_loc("score") + 1
    out.insert(at, "score_horizon", horizon)
    out.insert(at + 1, "score_kind", SCORE_KIND)
    return out


def _listed(names: list[str], limit: int = 10) -> str:
    more = f" ... ({len(names)} in all)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _put(cache: dict, key, value, size: int, limit: int, max_bytes: int) -> None:
    """Store (value, size) under `key`, dropping the oldest entries beyond `limit` entries or
    `max_bytes` (dicts keep insertion order); a value larger than `max_bytes` is not kept."""
    cache.pop(key, None)
    if size > max_bytes:
        return
    total = sum(v[1] for v in cache.values()) + size
    while cache and (len(cache) >= limit or total > max_bytes):
        total -= cache.pop(next(iter(cache)))[1]
    cache[key] = (value, size)


def predict_next_trade(predictor: Predictor, symbol: str, store_dir: str | Path) -> dict:
    """The spec's `predict_next_trade(symbol)`: one symbol from a store, as a dict."""
    row = predictor.predict_store(store_dir, [symbol]).iloc[0]
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
