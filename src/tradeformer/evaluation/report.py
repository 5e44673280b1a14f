"""`tradeformer report RUN_DIR`: a self-contained HTML page (PNG plots inlined) and a markdown
summary, laid out like the spec's tables: expected vs measured.

Reads RUN_DIR/evaluation/ (written by `evaluate_run`) and RUN_DIR/veto/veto_importance.csv;
writes RUN_DIR/report/index.html, summary.md and one PNG per plot.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from safetensors.numpy import load_file

from tradeformer.errors import StageError
from tradeformer.evaluation.summary import (
    SPEC_MEMBERS,
    backtest_table,
    baseline_difference_table,
    cross_section_table,
    ensemble_table,
    markdown,
    model_table,
    sources_table,
    veto_table,
)
from tradeformer.evaluation.tearsheet_report import tear_sheet_section
from tradeformer.features.columns import CLASSICAL_COLUMNS

COLORS = {
    "ensemble+veto": "#d62728",
    "ensemble": "#ff7f0e",
    "timeformer": "#9467bd",
    "tft": "#8c564b",
    "classical_lgbm": "#1f77b4",
    "classical_lgbm_xs": "#17becf",
    "ensemble_xs": "#e377c2",
    "sma_crossover": "#2ca02c",
    "random": "#7f7f7f",
    "always_up": "#bcbd22",
    "buy_and_hold": "#000000",
}
LABELS = {
    "ensemble+veto": "Ensemble + veto",
    "ensemble": "Ensemble (no veto)",
    "timeformer": "TimeFormer-XL",
    "tft": "TFT-XL",
    "classical_lgbm": "LightGBM (classical)",
    "classical_lgbm_xs": "LightGBM (x-sectional label, deciles)",
    "ensemble_xs": "Ensemble (deciles per date)",
    "sma_crossover": "SMA 20/50",
    "random": "Random",
    "always_up": "Always up",
    "buy_and_hold": "Buy and hold",
}


def _dates(ax) -> None:
    loc = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_equity(
    eq: pd.DataFrame, path: Path, cost_bps: float, horizon: int, members: tuple[str, ...] = ()
) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    for ax, variant in zip(axes, ("long_short", "long_only"), strict=True):
        sub = eq[eq["variant"] == variant]
        if variant == "long_short":
            sub = pd.concat([sub, eq[eq["strategy"] == "buy_and_hold"]])
        drawn: dict[str, np.ndarray] = {}
        for name, g in sub.groupby("strategy", sort=False):
            main = name in ("ensemble+veto", "ensemble", "buy_and_hold")
            curve = g["equity"].to_numpy()
            same = [LABELS.get(k, k) for k, v in drawn.items() if np.allclose(v, curve, rtol=1e-9)]
            drawn[name] = curve
            ax.plot(
                g["timestamp"],
                curve,
                label=LABELS.get(name, name) + (f" (= {same[0]})" if same else ""),
                color=COLORS.get(name),
                lw=2.2 if main else 1.2,
                ls="-" if main or name in members else "--",
            )
        _dates(ax)
        ax.axhline(1.0, color="grey", lw=0.6, ls=":")
        ax.set_title(f"{variant.replace('_', '-')}: growth of 1 (net of {cost_bps:g} bps)")
        ax.set_xlabel("date (test period)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"equity (start = 1), {horizon}-bar holding")
    axes[1].legend(fontsize=8, loc="upper left")
    return _save(fig, path)


def plot_drawdown(eq: pd.DataFrame, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(13, 3.4))
    for name, variant in (
        ("ensemble+veto", "long_short"),
        ("ensemble", "long_short"),
        ("buy_and_hold", "long_only"),
    ):
        g = eq[(eq["strategy"] == name) & (eq["variant"] == variant)]
        ax.fill_between(
            g["timestamp"],
            100 * g["drawdown"],
            0,
            alpha=0.25,
            color=COLORS[name],
            label=f"{LABELS[name]} ({variant})",
        )
    _dates(ax)
    ax.set_ylabel("drawdown (%)")
    ax.set_xlabel("date (test period)")
    ax.set_title("Drawdown from the running peak (net equity)")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_calibration(cal: pd.DataFrame, path: Path, horizon: int) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for ax, veto in zip(axes, (False, True), strict=True):
        sub = cal[cal["model"].str.startswith("veto") == veto]
        for name, g in sub.groupby("model", sort=False):
            ax.plot(
                100 * g["mean_prob"],
                100 * g["frac_up"],
                "o-",
                ms=4,
                lw=1,
                label=LABELS.get(name, name),
                color=COLORS.get(name),
            )
        vals = 100 * np.concatenate([sub["mean_prob"], sub["frac_up"]])
        lo, hi = max(0.0, vals.min() - 3), min(100.0, vals.max() + 3)
        ax.plot([lo, hi], [lo, hi], color="grey", ls="--", lw=0.8, label="perfect calibration")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel("forecast probability (%), 10 equal-count bins")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(f"observed up-share of the bin (%), {horizon}-bar")
    axes[0].set_title("Direction probability calibration")
    axes[1].set_ylabel("observed share of correct ensemble calls (%)")
    axes[1].set_title("Veto probability calibration")
    return _save(fig, path)


def plot_accuracy(ev: dict, path: Path) -> Path:
    names = [*_members(ev), "ensemble", "classical_lgbm", "sma_crossover", "random"]
    labels = {**LABELS, **_members(ev)}
    hs = [str(h) for h in ev["horizons"]]
    fig, ax = plt.subplots(figsize=(11, 4.4))
    width = 0.8 / len(names)
    x = np.arange(len(hs))
    seen = [50.0]  # every bar, whisker and majority line: the y-range holds them all
    for k, name in enumerate(names):
        acc = np.array([ev["forecasts"][h][name]["accuracy"] for h in hs]) * 100
        cis = [ev["forecasts"][h][name].get("accuracy_ci", (np.nan, np.nan)) for h in hs]
        err = np.abs(np.array(cis, dtype=float).T * 100 - acc)
        seen += [*acc, *(acc - err[0]), *(acc + err[1])]
        ax.bar(
            x + (k - len(names) / 2 + 0.5) * width,
            acc,
            width,
            yerr=err,
            capsize=2,
            color=COLORS.get(name),
            label=labels.get(name, name),
        )
    for i, h in enumerate(hs):
        maj = ev["forecasts"][h]["always_up"]["majority_rate"] * 100
        seen.append(maj)
        ax.hlines(
            maj,
            i - 0.45,
            i + 0.45,
            color="black",
            lw=2,
            label="majority class (always up)" if i == 0 else None,
        )
    ax.axhline(50, color="grey", lw=0.6, ls=":")
    ax.set_xticks(x, [f"{h} bars" for h in hs])
    ax.set_ylabel("direction accuracy (%)")
    seen = np.asarray(seen)[np.isfinite(seen)]
    ax.set_ylim(max(0.0, min(35.0, seen.min() - 3)), min(100.0, max(75.0, seen.max() + 8)))
    ax.set_title("Out-of-sample accuracy by horizon (95% block-bootstrap CIs)")
    ax.legend(fontsize=8, ncol=4, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_veto_curve(curve: pd.DataFrame, threshold: float, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(8, 4.4))
    ax.plot(
        100 * curve["coverage"],
        100 * curve["accuracy_kept"],
        "o-",
        color=COLORS["ensemble"],
        label="accuracy of kept ensemble calls",
    )
    ax.plot(
        100 * curve["coverage"],
        100 * curve["up_rate_kept"],
        "s--",
        color="black",
        ms=3,
        label="up-share of the kept rows (their base rate)",
    )
    here = curve.iloc[(curve["threshold"] - threshold).abs().argmin()]
    ax.axvline(
        100 * here["coverage"],
        color=COLORS["ensemble+veto"],
        ls=":",
        label=f"threshold {threshold:g}",
    )
    ax.set_xscale("log")
    ax.set_xlim(max(1e-3, 0.5 * 100 * curve["coverage"].min()), 110)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("coverage: share of rows traded (%, log scale)")
    ax.set_ylabel("%")
    ax.set_title("Veto: coverage vs accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_importance(imp: pd.DataFrame, path: Path, top: int = 20) -> Path:
    def group(f: str) -> str:
        if f.startswith("emb_"):
            return "embedding"
        if f in CLASSICAL_COLUMNS:
            return "classical"
        return "model outputs"

    imp = imp.assign(group=imp["feature"].map(group))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [2.2, 1]})
    t = imp.head(top).iloc[::-1]
    axes[0].barh(t["feature"], 100 * t["gain_share"], color="#1f77b4")
    axes[0].set_xlabel("share of total gain (%)")
    axes[0].set_title(f"LightGBM veto: top {top} features by gain")
    g = imp.groupby("group")["gain_share"].sum().sort_values()
    size = imp.groupby("group").size()
    axes[1].barh([f"{k} ({size[k]})" for k in g.index], 100 * g.to_numpy(), color="#ff7f0e")
    axes[1].set_xlabel("share of total gain (%)")
    axes[1].set_title("by feature group (count)")
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_variables(w: pd.DataFrame, path: Path) -> Path:
    w = w.sort_values("weight")
    fig, ax = plt.subplots(figsize=(7, max(4, 0.22 * len(w))))
    ax.barh(w["variable"], 100 * w["weight"], color="#8c564b")
    ax.axvline(100 / len(w), color="grey", ls="--", lw=0.8, label="uniform weight")
    ax.set_xlabel("mean variable-selection weight on test rows (%)")
    ax.set_title("TFT-XL variable selection")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_attention(attn: np.ndarray, path: Path, title: str = "TimeFormer-XL") -> Path:
    """A member's mean last-layer attention map, on a log colour scale (a few recent keys hold
    most of the weight; on a linear scale the rest of the map is uniformly dark)."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    positive = attn[attn > 0]
    floor = max(float(np.quantile(positive, 0.02)), 1e-6) if positive.size else 1e-6
    norm = LogNorm(vmin=floor, vmax=max(float(attn.max()), floor * 10))
    im = ax.imshow(np.clip(attn, floor, None), cmap="viridis", aspect="auto", norm=norm)
    if title.startswith("TimeFormer"):
        ax.set_xlabel("key token (0 = context token, then patches oldest -> newest)")
        ax.set_ylabel("query token")
    else:
        ax.set_xlabel("key time step (oldest -> newest bar of the window)")
        ax.set_ylabel("query time step")
    ax.set_title(f"{title} last-layer attention\n(mean over test rows and heads, log scale)")
    fig.colorbar(im, ax=ax, label="attention weight")
    return _save(fig, path)


def plot_ablations(ab: pd.DataFrame, path: Path) -> Path:
    ab = ab[ab["variant"] != "full"].copy()
    gain = -100 * ab["delta_accuracy"].to_numpy()
    pairs = [
        c if isinstance(c, list | tuple) else [np.nan, np.nan]
        for c in ab.get("delta_accuracy_ci", pd.Series([None] * len(ab)))
    ]
    lo = np.array([-100 * p[1] for p in pairs])
    hi = np.array([-100 * p[0] for p in pairs])
    err = np.nan_to_num(np.vstack([np.abs(gain - lo), np.abs(hi - gain)]))
    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = {
        "no_embedding": "foundation embedding",
        "no_mtf": "multi-timeframe (5)",
        "no_smc": "smart money concepts (12)",
        "no_ta": "technical indicators (12)",
        "timeformer_only": "ensemble vs TimeFormer alone",
        "tft_only": "ensemble vs TFT alone",
    }
    ax.barh([names.get(v, v) for v in ab["variant"]], gain, xerr=err, capsize=3, color="#9467bd")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("accuracy gain from the input = full minus without (percentage points)")
    ax.set_title("Ablations: measured 'improvement sources' (95% paired bootstrap CIs)")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _members(ev: dict) -> dict[str, str]:
    """{member: display title} of the evaluated run (runs before the registry: the spec pair)."""
    return ev.get("members") or SPEC_MEMBERS


def _member_figures(ev: dict, ev_dir: Path, out: Path) -> list[tuple[str, Path]]:
    """Each member's variable weights and attention map, where the evaluation wrote them."""
    figs = []
    for name, title in _members(ev).items():
        weights = ev_dir / f"{name}_variable_weights.csv"
        if weights.exists():
            fig = plot_variables(pd.read_csv(weights), out / f"{name}_variables.png")
            figs.append((f"{title} variable weights", fig))
        attn = ev_dir / f"{name}_attention.safetensors"
        if attn.exists():
            attn_map = load_file(str(attn))["attention"]
            fig = plot_attention(attn_map, out / f"{name}_attention.png", title)
            figs.append((f"{title} attention", fig))
    return figs


def render_report(run_dir: str | Path) -> Path:
    """Write RUN_DIR/report/{index.html, summary.md, *.png}; returns the HTML path."""
    run_dir = Path(run_dir)
    ev_dir = run_dir / "evaluation"
    ev_path = ev_dir / "evaluation.json"
    if not ev_path.exists():
        raise StageError(f"{run_dir}: no evaluation/evaluation.json (run evaluate first)")
    ev = json.loads(ev_path.read_text())
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    eq = pd.read_parquet(ev_dir / "equity.parquet")
    H = ev["horizon"]
    figs = [
        (
            "Equity curves vs baselines",
            plot_equity(eq, out / "equity.png", ev["cost_bps"], H, tuple(_members(ev))),
        ),
        ("Drawdown", plot_drawdown(eq, out / "drawdown.png")),
        ("Accuracy by horizon", plot_accuracy(ev, out / "accuracy_by_horizon.png")),
        (
            "Calibration",
            plot_calibration(pd.read_csv(ev_dir / "calibration.csv"), out / "calibration.png", H),
        ),
        (
            "Veto coverage vs accuracy",
            plot_veto_curve(
                pd.read_csv(ev_dir / "veto_curve.csv"),
                ev["veto"]["threshold"],
                out / "veto_curve.png",
            ),
        ),
    ]
    imp_path = run_dir / "veto" / "veto_importance.csv"
    if imp_path.exists():
        figs.append(
            (
                "LightGBM veto feature importance",
                plot_importance(pd.read_csv(imp_path), out / "veto_importance.png"),
            )
        )
    figs += _member_figures(ev, ev_dir, out)
    sheet_tables, sheet_figs = _tear_sheet(run_dir, H, out)
    figs += sheet_figs
    ab_path = ev_dir / "ablations.csv"
    if ab_path.exists() and len(pd.read_csv(ab_path)) > 1:
        figs.append(
            ("Ablations", plot_ablations(pd.DataFrame(ev["ablations"]), out / "ablations.png"))
        )

    tables = [
        ("Ensemble performance: spec vs measured", ensemble_table(ev)),
        ("Individual models and baselines (same rows)", model_table(ev)),
        ("Backtests (net of costs)", backtest_table(ev)),
    ]
    if ev.get("cross_section"):
        tables.append(("Cross-sectional signal (same rows)", cross_section_table(ev)))
        paired = baseline_difference_table(ev)
        tables.append(("The ensemble against the xs LightGBMs (paired, same rows)", paired))
        tables.append(("The veto as meta-labelling (ensemble horizon)", veto_table(ev)))
    if ev.get("ablations"):
        tables.append(("Improvement sources: spec vs measured (ablations)", sources_table(ev)))
    tables += sheet_tables
    md = [f"# tradeformer report: {run_dir.name}", "", _intro(ev), ""]
    for title, (head, rows) in tables:
        md += [f"## {title}", "", markdown(head, rows), ""]
    md += [
        "## Caveats",
        "",
        f"- {ev['survivorship']}",
        *[f"- {k}: {v}" for k, v in ev["conventions"].items()],
        "",
    ]
    (out / "summary.md").write_text("\n".join(md))
    (out / "index.html").write_text(_html(run_dir, ev, tables, figs))
    return out / "index.html"


def _tear_sheet(run_dir: Path, horizon: int, out: Path):
    """The factor tear sheet of the run's test predictions (`evaluation/tearsheet.py`)."""
    path = run_dir / "test_predictions.parquet"
    if not path.exists():
        return [], []
    return tear_sheet_section(pd.read_parquet(path), horizon, out)


def _intro(ev: dict) -> str:
    a, b = ev["test_period"]
    return (
        f"Final test period {a} .. {b} (never used for fitting, early stopping or thresholds): "
        f"{ev['n_symbols']} symbols, {ev['n_labeled_rows']:,} labelled rows, decision horizon "
        f"{ev['horizon']} bars, costs {ev['cost_bps']:g} bps per side. Accuracy is shown next to "
        "the majority-class rate of the same rows; brackets are 95% block-bootstrap intervals."
    )


def _html_table(head, rows) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _html(run_dir: Path, ev: dict, tables, figs) -> str:
    css = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%;border:1px solid #eee;margin:.5em 0}"
        ".note{background:#fff8e1;padding:.6em 1em;border-left:4px solid #f0b400}"
    )
    parts = [
        f"<html><head><meta charset='utf-8'><title>tradeformer report {run_dir.name}"
        f"</title><style>{css}</style></head><body>",
        f"<h1>tradeformer report: {html.escape(run_dir.name)}</h1>",
        f"<p>{html.escape(_intro(ev))}</p>",
        f"<p class='note'>{html.escape(ev['survivorship'])}</p>",
    ]
    for title, (head, rows) in tables:
        parts += [f"<h2>{html.escape(title)}</h2>", _html_table(head, rows)]
    for title, path in figs:
        data = base64.b64encode(path.read_bytes()).decode()
        parts += [
            f"<h2>{html.escape(title)}</h2>",
            f"<img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>",
        ]
    conv = "".join(
        f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in ev["conventions"].items()
    )
    parts += [f"<h2>Conventions</h2><ul>{conv}</ul>", "</body></html>"]
    return "\n".join(parts)
