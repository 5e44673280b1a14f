"""Cross-sectional transforms of a universe: targets, input normalisation, market context.

Every value at date t is mapped using only date t's values of the symbols present at t (the
rows of that date holding a finite value), never another date's: a per-date rank, z-score,
mean or median. A symbol whose first bar comes after t is absent at t and changes nothing
there. Labels use prices after t by definition (never a feature); features and their
normalisation use nothing after t.

Group statistics are pandas' (cythonised `groupby` rank / mean / std / median), applied in
column chunks so a 512-D embedding never needs more than a chunk's float64 copy.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy import sparse

from tradeformer.config import NormalizationConfig, TargetConfig
from tradeformer.dataset.arrays import release
from tradeformer.dataset.universe import Universe

MARKET_COLUMNS = ("mkt_ret_1", "mkt_ret_5", "mkt_ret_20", "mkt_dispersion_5", "mkt_vol_20")
_CHUNK_BYTES = 1 << 26  # a column chunk's float64 copy: at most 64 MiB (the temporaries of
# a groupby are a few times that), so memory stays flat however many rows the universe has


def date_codes(timestamps: np.ndarray) -> np.ndarray:
    """(N,) integer code of each row's date (decision timestamp), in time order."""
    return pd.factorize(np.asarray(timestamps), sort=True)[0]


def _by_date(x: np.ndarray, codes: np.ndarray, fn, out: np.ndarray | None = None) -> np.ndarray:
    """Apply `fn(groupby) -> (values, ...)` to (N,) or (N, K) `x` in column chunks (each
    column is independent), into `out` when given (any float dtype, e.g. a memory map)."""
    flat = x.ndim == 1
    x2 = x[:, None] if flat else x
    if out is None:
        out = np.empty(x2.shape, dtype="float64")
    step = chunk_columns(len(x2))
    for a in range(0, x2.shape[1], step):
        frame = pd.DataFrame(np.asarray(x2[:, a : a + step], dtype="float64"))
        release(x2)
        out[:, a : a + step] = fn(frame, frame.groupby(codes, sort=False))
        release(out)  # a memory map keeps one chunk's pages resident, not the whole file
    return out[:, 0] if flat else out


def chunk_columns(n_rows: int) -> int:
    """Columns per chunk so that one float64 chunk is at most `_CHUNK_BYTES`."""
    return int(max(1, min(64, _CHUNK_BYTES // max(8 * n_rows, 1))))


def cs_rank(x: np.ndarray, codes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Per-date average rank mapped to [-1, 1]: 2 (rank - 1/2) / n - 1 over the n finite
    values of the date (symmetric; a date with one name gives 0); NaN stays NaN."""

    def fn(frame, g):
        r = g.rank(method="average").to_numpy()
        n = g.transform("count").to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return 2.0 * (r - 0.5) / n - 1.0

    return _by_date(x, codes, fn, out)


def cs_zscore(x: np.ndarray, codes: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(x - date mean) / date std (population) over the date's finite values; 0 where they
    are all equal, NaN stays NaN. Three passes over blocks of rows (the dates' sums and
    counts, their centred sums of squares, the z-scores), so a memory-mapped `x` or `out`
    is read and written in file order with one block's pages resident at a time; the
    per-date sums are (dates, columns) arrays, whatever the number of rows."""
    flat = x.ndim == 1
    x2 = x[:, None] if flat else x
    if out is None:
        out = np.empty(x.shape, dtype="float64")
    out2 = out[:, None] if flat else out
    codes = np.asarray(codes)
    k = int(codes.max()) + 1 if len(codes) else 0
    step = max(1, _CHUNK_BYTES // (8 * max(x2.shape[1], 1)))
    blocks = [slice(a, a + step) for a in range(0, len(x2), step)]
    by_date = [_date_indicator(codes[b], k) for b in blocks]  # built once, used twice
    total = np.zeros((k, x2.shape[1]))
    count = np.zeros((k, x2.shape[1]))
    for b, ind in zip(blocks, by_date, strict=True):
        v = _rows(x2, b)
        ok = np.isfinite(v)
        total += ind @ np.where(ok, v, 0.0)
        count += ind @ ok.astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    squares = np.zeros_like(total)
    for b, ind in zip(blocks, by_date, strict=True):
        v = _rows(x2, b)
        dev = np.where(np.isfinite(v), v - mean[codes[b]], 0.0)
        squares += ind @ (dev * dev)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(squares / count)
    for b in blocks:
        v = _rows(x2, b)
        with np.errstate(invalid="ignore", divide="ignore"):
            dev, s = v - mean[codes[b]], sd[codes[b]]
            z = np.where(s > 0, dev / s, 0.0)
        out2[b] = np.where(np.isfinite(v), z, np.nan)
        release(out2)
    return out


def _rows(x: np.ndarray, rows: slice) -> np.ndarray:
    """A block of rows as float64, the memory map's pages released after the copy."""
    v = np.asarray(x[rows], dtype="float64")
    release(x)
    return v


def _date_indicator(codes: np.ndarray, k: int) -> sparse.csr_matrix:
    """The sparse (k dates x rows) 0/1 matrix of a block's rows: times the block, its per-date
    sums (6x faster than sorting the rows and `np.add.reduceat`)."""
    n = len(codes)
    return sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(k, n))


def _std(frame: pd.DataFrame, g) -> np.ndarray:
    n = g.transform("count").to_numpy()
    sd = g.transform("std").to_numpy()  # ddof=1, cythonised
    with np.errstate(invalid="ignore"):
        return np.where(n > 1, sd * np.sqrt(np.maximum(n - 1, 0) / np.maximum(n, 1)), 0.0)


def cs_demean(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """x minus its date's mean (the excess over the cross-section)."""
    return _by_date(x, codes, lambda frame, g: frame.to_numpy() - g.transform("mean").to_numpy())


def above_date_median(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """1.0 where x beats its date's median, 0.0 otherwise, NaN where x is NaN."""

    def fn(frame, g):
        v = frame.to_numpy()
        return np.where(np.isnan(v), np.nan, (v > g.transform("median").to_numpy()) * 1.0)

    return _by_date(x, codes, fn)


def normalize(x: np.ndarray, codes: np.ndarray, how: str) -> np.ndarray:
    if how == "none":
        return x
    if how == "cs_rank":
        return cs_rank(x, codes).astype("float32")
    if how == "cs_zscore":
        return cs_zscore(x, codes).astype("float32")
    raise ValueError(f"unknown cross-sectional normalisation {how!r}")


def normalize_into(x: np.ndarray, codes: np.ndarray, how: str, out: np.ndarray) -> np.ndarray:
    """`normalize` written column chunk by chunk into `out` (the (N, 512) embedding: no
    full-width float64 copy; `out` may be a memory map of the cache)."""
    if how == "cs_rank":
        return cs_rank(x, codes, out=out)
    if how == "cs_zscore":
        return cs_zscore(x, codes, out=out)
    raise ValueError(f"unknown cross-sectional normalisation {how!r}")


# ------------------------------------------------------------------ per-symbol summaries
def trailing_log_return(close: np.ndarray, offsets: np.ndarray, k: int) -> np.ndarray:
    """log(close[t] / close[t - k]) within each symbol; NaN for the first k bars of each."""
    out = np.full(len(close), np.nan)
    if k < len(close):
        out[k:] = np.log(close[k:] / close[:-k])
    pos = np.arange(len(close)) - np.repeat(offsets[:-1], np.diff(offsets))
    out[pos < k] = np.nan
    return out


def trailing_volatility(close: np.ndarray, offsets: np.ndarray, window: int) -> np.ndarray:
    """Std of the last `window` one-bar log returns within each symbol (NaN until full)."""
    r = trailing_log_return(close, offsets, 1)
    s = pd.Series(r).groupby(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)))
    return s.rolling(window, min_periods=window).std(ddof=0).to_numpy()


def market_context(u: Universe, codes: np.ndarray) -> np.ndarray:
    """(N, 5) `MARKET_COLUMNS`: the date's mean 1/5/20-bar return, the cross-sectional
    dispersion of 5-bar returns and the mean 20-bar volatility, over the symbols at t."""
    close = u.ohlcv[:, 3]
    own = np.stack(
        [
            trailing_log_return(close, u.offsets, 1),
            trailing_log_return(close, u.offsets, 5),
            trailing_log_return(close, u.offsets, 20),
            trailing_volatility(close, u.offsets, 20),
        ],
        axis=1,
    )
    mean = _by_date(own, codes, lambda f, g: g.transform("mean").to_numpy())
    disp = _by_date(own[:, 1], codes, _std)
    return np.stack([mean[:, 0], mean[:, 1], mean[:, 2], disp, mean[:, 3]], axis=1)


# ------------------------------------------------------------------ the universe
def cross_sectional_target(
    ret: np.ndarray, codes: np.ndarray, kind: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(target returns, target directions) for `kind`; (None, None) for raw."""
    if kind == "raw":
        return None, None
    direction = above_date_median(ret, codes).astype("float32")
    if kind == "excess":
        return cs_demean(ret, codes).astype("float32"), direction
    if kind == "cs_rank":
        return cs_rank(ret, codes).astype("float32"), direction
    raise ValueError(f"unknown target kind {kind!r}")


def _normalized_embedding(u: Universe, codes: np.ndarray, how: str) -> np.ndarray:
    """The whole embedding normalised per date, column chunk by chunk: a memory map in the
    universe's array store when it has one (training), else an array."""

    def fill(out: np.ndarray) -> None:
        normalize_into(u.embedding, codes, how, out)
        release(u.embedding)

    store = u.meta.get("arrays")
    if store is None:
        out = np.empty(u.embedding.shape, "float32")
        fill(out)
        return out
    return store.array(f"embedding_{how}", u.embedding.shape, u.embedding.dtype, fill)


def apply_cross_section(
    u: Universe,
    target: TargetConfig,
    norm: NormalizationConfig,
    *,
    embedding_rows: np.ndarray | None = None,
) -> Universe:
    """The universe with the configured target and input normalisation. `embedding_rows`
    (serving) limits the embedding's cross-sections to the rows that hold one."""
    codes = date_codes(u.timestamps)
    t_ret, t_dir = cross_sectional_target(u.ret, codes, target.kind)
    context = normalize(u.context, codes, norm.context)
    names = list(u.context_names)
    if norm.market_context:
        context = np.concatenate([context, market_context(u, codes).astype("float32")], axis=1)
        names += list(MARKET_COLUMNS)
    if norm.price_summaries:
        ranks, rank_names = summary_ranks(u)
        context = np.concatenate([context, ranks], axis=1)
        names += rank_names
    embedding = u.embedding
    if norm.embedding != "none" and embedding.shape[1]:
        if embedding_rows is None:  # every row (training): chunked, into the universe's store
            embedding = _normalized_embedding(u, codes, norm.embedding)
        else:  # serving: the rows that hold an embedding
            embedding = embedding.copy()
            rows = embedding_rows
            embedding[rows] = normalize(embedding[rows], codes[rows], norm.embedding)
    out = replace(
        u,
        context=np.ascontiguousarray(context, dtype="float32"),
        embedding=embedding,
        target_ret=t_ret,
        target_dir=t_dir,
        context_names=tuple(names),
    )
    if norm.market_context:  # the first bars of every symbol have no 20-bar history
        out.eligible = u.eligible & np.isfinite(context[:, : len(u.context_names) + 5]).all(1)
    if norm.price_summaries:  # a young symbol's 52-week columns: a neutral rank until defined
        np.nan_to_num(out.context, copy=False, nan=0.0)
    return out


def summary_ranks(u: Universe) -> tuple[np.ndarray, list[str]]:
    """The per-date ranks of the price-window summaries (cached in the universe's meta, where
    the boosted member finds them too)."""
    from tradeformer.dataset.summaries import price_summaries

    if "price_summaries" not in u.meta:
        u.meta["price_summaries"] = price_summaries(u)
    x, names = u.meta["price_summaries"]
    keep = [i for i, n in enumerate(names) if n.endswith("_cs_rank")]
    return np.ascontiguousarray(x[:, keep]), [names[i] for i in keep]
