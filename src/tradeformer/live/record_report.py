"""`tradeformer ledger report`: the live record as HTML (tables and plots) next to the
backtest's figures of the same bundle (its run's evaluation, when the bundle sits in a run
directory), and how closely the issued scores match that backtest's on the same rows."""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from tradeformer.evaluation.metrics import MIN_DATES
from tradeformer.live.record import live_record, scored

CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
    "img{max-width:100%;border:1px solid #eee;margin:.5em 0}"
)


def _ci(v: float, ci) -> str:
    if not np.isfinite(v):
        return "-"
    if ci is None or not np.all(np.isfinite(ci)):
        return f"{v:+.4f}"
    return f"{v:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]"


def backtest_figures(bundle_path: str) -> dict:
    """The bundle's run evaluation per horizon (ensemble): per-date rank IC and the
    long-short Sharpe with CIs, accuracy and majority rate; {} without one."""
    ev_path = Path(bundle_path).parent / "evaluation" / "evaluation.json"
    if not ev_path.exists():
        return {}
    ev = json.loads(ev_path.read_text())
    out = {}
    for h, models in ev.get("cross_section", {}).get("by_horizon", {}).items():
        e = models.get("ensemble", {})
        f = ev.get("forecasts", {}).get(h, {}).get("ensemble", {})
        out[int(h)] = {**e, "accuracy": f.get("accuracy"), "majority": f.get("majority_rate"),
                       "period": ev.get("test_period")}  # fmt: skip
    return out


def backtest_match(rows: pd.DataFrame, bundle_path: str) -> pd.DataFrame:
    """Issued scores against the run's test predictions (`ensemble_ret_<h>`) on the same
    (date, symbol, horizon): rows compared and the largest absolute difference."""
    path = Path(bundle_path).parent / "test_predictions.parquet"
    if not path.exists():
        return pd.DataFrame()
    h_cols = [f"ensemble_ret_{h}" for h in sorted(rows["horizon"].unique())]
    test = pd.read_parquet(path, columns=["timestamp", "symbol", *h_cols])
    out = []
    for h, r in rows.groupby("horizon"):
        m = r.merge(test, left_on=["date", "symbol"], right_on=["timestamp", "symbol"])
        diff = (m["score"] - m[f"ensemble_ret_{h}"]).abs()
        corr = m["score"].corr(m[f"ensemble_ret_{h}"], method="spearman") if len(m) > 2 else None
        out.append({"horizon": h, "rows": len(r), "matched": len(m),
                    "equal_within_1e-6": float((diff <= 1e-6).mean()) if len(m) else None,
                    "max_abs_diff": float(diff.max()) if len(m) else float("nan"),
                    "rank_correlation": corr})  # fmt: skip
    return pd.DataFrame(out)


def _plot(records: list[dict], path: Path) -> Path:
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    for rec in records:
        book = rec.get("book")
        if book is None or book.empty:
            continue
        axes[0].plot(book.index, book["equity"], marker=".", label=f"{rec['horizon']} bars")
        axes[1].plot(book.index, book["drawdown"] * 100, marker=".", label=f"{rec['horizon']} bars")
    axes[0].axhline(1, color="grey", lw=0.8)
    axes[0].set(title="Paper long-short, net equity (top minus bottom decile)", ylabel="equity")
    axes[1].set(title="Drawdown", ylabel="%")
    for ax in axes:
        ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_ic(rows: pd.DataFrame, path: Path) -> Path:
    from tradeformer.stats.ranking import per_date_rank_ic

    fig, ax = plt.subplots(figsize=(10, 3.6))
    for h, r in rows.groupby("horizon"):
        ic = per_date_rank_ic(r["score"].to_numpy(float), r["realized_return"].to_numpy(float),
                              r["date"].to_numpy())  # fmt: skip
        ax.plot(ic.index, ic.to_numpy(), marker="o", lw=0.8, label=f"{h} bars")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title="Per-date rank IC of the issued scores", ylabel="rank IC")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render_live_report(ledger_rows: pd.DataFrame, out_dir: Path, cost_bps: float = 5.0) -> Path:
    """`out_dir/index.html` (+ PNGs, record.json) for each bundle in the ledger."""
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [f"<html><head><meta charset='utf-8'><title>tradeformer live record</title>"
             f"<style>{CSS}</style></head><body><h1>Live record</h1>"]  # fmt: skip
    summary = {}
    parts.append(
        "<p>Hit rate: the issued side against the outcome's side (for cross-sectional scores, "
        "relative to the date's median outcome); majority: the more frequent outcome side on "
        "the same rows. The paper long-short is the top minus the bottom decile of each "
        "signal date, held h bars.</p>"
    )
    n_pending = int(ledger_rows["realized_return"].isna().sum())
    parts.append(f"<p>{len(ledger_rows):,} signals in the ledger, {n_pending:,} awaiting their "
                 f"outcome; paper costs {cost_bps:g} bps per side.</p>")  # fmt: skip
    for bid, sig in ledger_rows.groupby("bundle_id"):
        rows = scored(sig)
        path = sig["bundle_path"].iloc[0]
        parts.append(f"<h2>Bundle {html.escape(bid)}</h2><p>{html.escape(path)}</p>")
        if rows.empty:
            parts.append("<p>No signal has an outcome yet.</p>")
            continue
        recs = [live_record(rows, int(h), cost_bps) for h in sorted(rows["horizon"].unique())]
        parts.append(_record_table(recs, backtest_figures(path)))
        match = backtest_match(rows, path)
        if not match.empty:
            parts += ["<h3>Issued scores vs the run's one-shot backtest (same rows)</h3>",
                      match.to_html(index=False, float_format="{:.4g}".format)]  # fmt: skip
        ic_png = _plot_ic(rows, out_dir / f"ic_{bid}.png")
        eq_png = _plot(recs, out_dir / f"equity_{bid}.png")
        parts += [f"<img src='{ic_png.name}'>", f"<img src='{eq_png.name}'>"]
        summary[bid] = [{k: v for k, v in r.items() if k != "book"} for r in recs]
    parts.append("</body></html>")
    (out_dir / "index.html").write_text("\n".join(parts))
    (out_dir / "record.json").write_text(json.dumps(summary, indent=2, default=float))
    return out_dir / "index.html"


def _record_table(recs: list[dict], backtest: dict) -> str:
    head = ["horizon", "signals", "dates", "rank IC [95% CI]", "backtest rank IC",
            "hit rate", "majority", "backtest raw-direction acc / majority", "L/S Sharpe [95% CI]",
            "backtest L/S Sharpe", "L/S total", "max DD"]  # fmt: skip
    body = []
    for r in recs:
        b = backtest.get(r["horizon"], {})
        acc = f"{b['accuracy']:.3f} / {b['majority']:.3f}" if b.get("accuracy") else "-"
        body.append([
            str(r["horizon"]), f"{r['n_signals']:,}", str(r.get("n_dates", 0)),
            _ci(r.get("date_rank_ic", np.nan), r.get("date_rank_ic_ci"))
            + ("" if r.get("n_dates", 0) >= MIN_DATES else f" (no CI: < {MIN_DATES} dates)"),
            _ci(b.get("date_rank_ic", np.nan), b.get("date_rank_ic_ci")) if b else "-",
            f"{r['hit_rate']:.3f}", f"{r['majority_rate']:.3f}", acc,
            _ci(r["ls_sharpe"], r["ls_sharpe_ci"]),
            _ci(b.get("ls_sharpe", np.nan), b.get("ls_sharpe_ci")) if b else "-",
            f"{r['ls_total_return']:+.2%}", f"{r['ls_max_drawdown']:.2%}",
        ])  # fmt: skip
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                  for row in body)  # fmt: skip
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"
