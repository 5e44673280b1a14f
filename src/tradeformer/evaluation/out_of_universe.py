"""A trained bundle scored on other data: `tradeformer evaluate --bundle B --data OTHER`.

The bundle's members, scaler, veto and embedding encoder are applied, unchanged, to every bar
of OTHER's symbols from `start` (to `end`), exactly as training scored its test period: the
same features, the same per-date transforms, where each date's cross-section is the symbols
of OTHER present that date. Writes `test_predictions.parquet` (the columns of a training
run's) and `evaluation.json` + `summary.md` with the cross-sectional scorecard of every
member, the ensemble, the veto-kept rows and the cross-sectional LightGBM baseline on the same
rows. That baseline is fitted on OTHER itself, on its rows before `start` (the last
`val_dates` dates stop it; the `purge` dates just before `start` are left out): the bar it
sets is the one a model trained on those very names would reach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tradeformer.config import ExperimentConfig
from tradeformer.data.schema import Timeframe
from tradeformer.data.sources import resolve_store
from tradeformer.dataset.cross_section import apply_cross_section, date_codes
from tradeformer.dataset.prepare import stable_hash
from tradeformer.dataset.universe import Universe, load_universe
from tradeformer.errors import InputError
from tradeformer.evaluation.baselines import classical_lgbm
from tradeformer.evaluation.cross_section import baseline_features, evaluate_cross_section
from tradeformer.evaluation.evaluate import json_default
from tradeformer.evaluation.summary import baseline_difference_table, markdown
from tradeformer.features.foundation.cache import build_embeddings
from tradeformer.features.pipeline import build_features
from tradeformer.inference.predictor import Predictor
from tradeformer.models.registry import model_spec
from tradeformer.training.columns import ENSEMBLE
from tradeformer.training.ensemble import decide, member_outputs
from tradeformer.training.frames import build_test_frame
from tradeformer.training.prediction import predict_models
from tradeformer.training.veto import veto_features


@dataclass
class OtherData:
    """OTHER as the bundle sees it: its universe and the rows scored."""

    u: Universe
    rows: np.ndarray
    symbols: list[str]
    store: str


def choose_symbols(
    available: list[str], bundle_manifest: dict, symbols: list[str] | None, heldout: bool
) -> list[str]:
    """The symbols to score: given ones, the bundle's held-out names, or all of OTHER's."""
    if heldout:
        names = bundle_manifest.get("decision", {}).get("heldout_symbols") or []
        if not names:
            raise InputError("--heldout: this bundle was trained without held-out names")
        symbols = names
    if not symbols:
        return sorted(available)
    have = {s.upper(): s for s in available}
    missing = [s for s in symbols if s.upper() not in have]
    if missing:
        raise InputError(f"not in the data: {', '.join(missing[:20])}")
    return [have[s.upper()] for s in symbols]


def open_other(
    pred: Predictor,
    cfg: ExperimentConfig,
    sources: list[Path],
    *,
    symbols: list[str] | None,
    heldout: bool,
    start: pd.Timestamp,
    end: pd.Timestamp | None,
    policy: str,
    cache_dir: Path,
    progress: bool,
) -> OtherData:
    """OTHER's store, features, embeddings (the bundle's encoder) and universe."""
    store = resolve_store(
        sources, cache_dir, adjust=cfg.data.adjust, min_bars=cfg.data.min_bars, policy=policy
    )
    tf = Timeframe.parse(cfg.data.timeframe or store.default_timeframe()).value
    names = choose_symbols(store.symbols(tf), pred.bundle.manifest, symbols, heldout)
    feat_cfg = cfg.features.model_copy(update={"timeframe": tf})
    fdir = cache_dir / "features" / stable_hash([str(store.root), feat_cfg.fingerprint()])
    build_features(store.root, fdir, feat_cfg, symbols=names, progress=progress)
    emb_dir = None
    if pred.embedder.dim:
        em = build_embeddings(
            store.root,
            cache_dir / "embeddings",
            timeframe=tf,
            symbols=names,
            lookback=pred.lookback,
            batch_size=cfg.embedding.batch_size,
            progress=progress,
            model=pred.embedder,
        )
        emb_dir = Path(em["path"])
    u = load_universe(
        store.root,
        fdir,
        emb_dir,
        timeframe=tf,
        symbols=names,
        horizons=pred.horizons,
        lookback=pred.lookback,
        embedding_dtype=cfg.embedding.storage,
    )
    if cfg.target.kind != "raw" or cfg.normalization.cross_sectional:
        u = apply_cross_section(u, cfg.target, cfg.normalization)
    rows = u.rows_between(start, end if end is not None else pd.Timestamp.max, labeled=False)
    if not len(rows):
        raise InputError(f"no bar of {', '.join(names[:5])}... on or after {start.date()}")
    return OtherData(u, rows, names, str(store.root))


def score_rows(pred: Predictor, cfg: ExperimentConfig, other: OtherData) -> pd.DataFrame:
    """The bundle's decisions and every member's outputs on OTHER's rows (training's frame)."""
    b, u, rows = pred.bundle, other.u, other.rows
    outs = predict_models(list(b.members.values()), u, rows, pred.lookback, b.scaler)
    preds = dict(zip(b.members, outs, strict=True))
    hi = pred.horizons.index(cfg.ensemble.horizon)
    prob = []
    for a in range(0, len(rows), 1 << 16):  # the veto's matrix, a chunk of rows at a time
        part = {m: {k: v[a : a + (1 << 16)] for k, v in p.items()} for m, p in preds.items()}
        r = rows[a : a + (1 << 16)]
        x = veto_features(u.context[r], u.embedding[r], part, pred.diagnostics, hi)
        prob.append(b.veto.predict(x))
    codes = date_codes(u.timestamps)
    rets = member_outputs(preds, "ret", hi)
    decisions = decide(rets, np.concatenate(prob), cfg.ensemble, pred.threshold, codes[rows])
    return build_test_frame(u, rows, preds, decisions, cfg)


def baseline_rows(u: Universe, start: pd.Timestamp, val_dates: int, purge: int):
    """(train, validation) rows of OTHER before `start`: the last `val_dates` dates validate,
    the `purge` dates before `start` (labels reaching into the scored period) are dropped,
    as are `purge` dates between training and validation."""
    lo = np.datetime64(start, "ns").astype("int64")
    before = np.flatnonzero(u.eligible & u.labeled & (u.timestamps < lo))
    dates = np.unique(u.timestamps[before])
    if len(dates) < val_dates + 3 * purge + 50:
        raise InputError(f"too little history before {start.date()} to fit the baseline")
    va_lo, va_hi = dates[-(val_dates + purge)], dates[-(purge + 1)]
    tr_hi = dates[-(val_dates + 2 * purge + 1)]
    ts = u.timestamps[before]
    return before[ts <= tr_hi], before[(ts >= va_lo) & (ts <= va_hi)]


def scorecard(
    frame: pd.DataFrame,
    other: OtherData,
    cfg: ExperimentConfig,
    members: list[str],
    threshold: float,
    *,
    start: pd.Timestamp,
    cost_bps: float,
    n_boot: int,
) -> dict:
    """The cross-sectional scorecard of the members, the ensemble (all rows and veto-kept)
    and the xs LightGBM baseline (fitted on OTHER before `start`) on the scored rows."""
    u, rows = other.u, other.rows
    tr, va = baseline_rows(u, start, cfg.calendar.val_bars, max(u.horizons))
    full = baseline_features(u)
    scores = {}
    for j, h in enumerate(u.horizons):
        fc, _ = classical_lgbm(u, tr, va, rows, j, cfg.seed, cross_sectional=True, features=full)
        cols = {n: frame[f"{n}_ret_{h}"].to_numpy() for n in (*members, ENSEMBLE)}
        scores[str(h)] = {**cols, "xs_lgbm_full": fc.score}
    kept = frame["veto_prob"].to_numpy() >= threshold
    return evaluate_cross_section(frame, scores, kept, cfg.ensemble.horizon, cost_bps, n_boot)


def evaluate_bundle(
    bundle_dir: str | Path,
    sources: list[str | Path],
    *,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp | None = None,
    symbols: list[str] | None = None,
    heldout: bool = False,
    out_dir: str | Path | None = None,
    policy: str = "reject",
    cache_dir: str | Path | None = None,
    cost_bps: float = 5.0,
    n_boot: int = 200,
    progress: bool = True,
) -> dict:
    """Score a bundle on OTHER (folders/files of bars or a store) from `start`; returns the
    evaluation (also written, with the predictions, to `out_dir`). `cache_dir`: where OTHER's
    store, features and embeddings are cached (default: the training config's cache)."""
    pred = Predictor.load(bundle_dir)
    cfg = ExperimentConfig(**pred.bundle.manifest["config"])
    start = pd.Timestamp(start)
    end = pd.Timestamp(end) if end is not None else None
    other = open_other(
        pred,
        cfg,
        [Path(s) for s in sources],
        symbols=symbols,
        heldout=heldout,
        start=start,
        end=end,
        policy=policy,
        cache_dir=Path(cache_dir or cfg.cache_dir),
        progress=progress,
    )
    frame = score_rows(pred, cfg, other)
    out = Path(out_dir) if out_dir else Path(bundle_dir).parent / "out_of_universe"
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "test_predictions.parquet", index=False)
    members = list(pred.bundle.members)
    xs = scorecard(
        frame, other, cfg, members, pred.threshold, start=start, cost_bps=cost_bps, n_boot=n_boot
    )
    kinds = {m: e["kind"] for m, e in pred.bundle.manifest["models"].items()}
    xs["names"] = {**{m: model_spec(k).title for m, k in kinds.items()}, **xs["names"]}
    result = {
        "bundle": str(bundle_dir),
        "data": [str(s) for s in sources],
        "symbols": other.symbols,
        "n_symbols": len(other.symbols),
        "start": str(frame["timestamp"].min().date()),
        "end": str(frame["timestamp"].max().date()),
        "n_rows": len(frame),
        "heldout": heldout,
        "cross_section": xs,
    }
    (out / "evaluation.json").write_text(json.dumps(result, indent=2, default=json_default))
    (out / "summary.md").write_text(summary_markdown(result, members))
    return result


def summary_markdown(result: dict, members: list[str]) -> str:
    """The scorecard as a markdown table per horizon."""
    xs = result["cross_section"]
    lines = [
        f"# Out-of-universe evaluation: {result['n_symbols']} symbols, "
        f"{result['start']} .. {result['end']} ({result['n_rows']:,} rows)",
        "",
        f"bundle `{result['bundle']}`; data {', '.join(result['data'])}",
        "",
    ]
    head = "| signal | rank IC [95% CI] | NW t | ICIR | L/S net Sharpe [95% CI] | turnover / yr |"
    for h, block in xs["by_horizon"].items():
        lines += [f"## {h} bars", "", head, "|---|---|---|---|---|---|"]
        for name, card in block.items():
            title = xs["names"].get(name, name)
            lines.append(_row(title, card))
        lines.append("")
    head, rows = baseline_difference_table(result)
    if rows:
        lines += ["## The ensemble minus the xs LightGBM, paired on the same rows", ""]
        lines += [markdown(head, rows), ""]
    v = xs["veto"]
    if "accuracy_kept" in v:
        lines.append(
            f"veto: keeps {v['coverage']:.0%}; side accuracy {v['accuracy_kept']:.1%} vs "
            f"{v['random_veto_accuracy']:.1%} for a random veto of the same coverage"
        )
    return "\n".join(lines) + "\n"


def _row(title: str, c: dict) -> str:
    lo, hi = c.get("date_rank_ic_ci", (float("nan"), float("nan")))
    s_lo, s_hi = c.get("ls_sharpe_ci", (float("nan"), float("nan")))
    return (
        f"| {title} | {c['date_rank_ic']:+.4f} [{lo:+.4f}, {hi:+.4f}] | "
        f"{c.get('date_rank_ic_nw_t', float('nan')):.2f} | {c.get('icir', float('nan')):.3f} | "
        f"{c.get('ls_sharpe', float('nan')):.2f} [{s_lo:.2f}, {s_hi:.2f}] | "
        f"{c.get('ls_annual_turnover', float('nan')):.1f} |"
    )
