"""Rich tables and messages the commands print (no computation here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.markup import escape
from rich.table import Table

from tradeformer.cli.console import console
from tradeformer.data.loading import LoadedBars
from tradeformer.data.validation import ValidationReport
from tradeformer.training.columns import prediction_column


def when(ts: pd.Timestamp) -> str:
    if ts.tzinfo is None and ts == ts.normalize():
        return str(ts.date())
    return ts.strftime("%Y-%m-%d %H:%M %Z")


def print_report(report: ValidationReport) -> None:
    for r in report.repairs:
        ex = f" e.g. {', '.join(r.examples[:3])}" if r.examples else ""
        msg = escape(f"{r.symbol}: {r.rule.value}: {r.action} ({r.rows}){ex}")
        console.print(f"[yellow]repaired[/] {msg}")
    for w in report.warnings:
        console.print(f"[yellow]warning[/] {escape(w.message)}", highlight=False)


def summary_table(loaded: LoadedBars, title: str) -> Table:
    t = Table(title=title)
    for col in ("symbol", "timeframe", "bars", "first", "last", "ann. vol", "total return"):
        t.add_column(col, justify="right" if col not in ("symbol", "timeframe") else "left")
    for sym in loaded.symbols:
        f = loaded.bars[sym]
        close = f["close"].to_numpy()
        r = np.diff(np.log(close))
        per_year = 252 if loaded.timeframes[sym] == "1D" else np.nan
        vol = np.std(r) * np.sqrt(per_year) if r.size else np.nan
        t.add_row(
            sym,
            loaded.timeframes[sym],
            f"{len(f):,}",
            when(f["timestamp"].iloc[0]),
            when(f["timestamp"].iloc[-1]),
            "-" if np.isnan(vol) else f"{vol:.1%}",
            f"{close[-1] / close[0] - 1:+.1%}",
        )
    return t


def metrics_table(metrics: dict) -> Table:
    """Direction metrics of every member and the ensemble, OOF and test."""
    h = metrics["horizon"]
    t = Table(title=f"direction at {h} bars: accuracy vs the up-share base rate")
    cols = ("period", "model", "n", "accuracy", "base rate up", "acc - majority", "AUC", "rank IC")
    for col in cols:
        t.add_column(col, justify="right")
    for period in ("oof", "test"):
        for name, block in metrics[period].items():
            m = block if name == "ensemble" else block[f"h{h}"]
            t.add_row(
                period,
                name,
                f"{m['n']:,}",
                f"{m['accuracy']:.1%}",
                f"{m['base_rate_up']:.1%}",
                f"{m['accuracy_minus_majority']:+.1%}",
                f"{m['auc']:.3f}",
                f"{m['rank_ic']:+.3f}",
            )
    return t


def print_results(m: dict) -> None:
    """Direction metrics table and the veto's coverage against its rows' base rate."""
    console.print(metrics_table(m))
    v = m["veto"]["test"]
    if v.get("n_kept"):
        console.print(
            f"veto (threshold {m['veto']['threshold']}): keeps {v['coverage']:.1%} of test rows; "
            f"accuracy of kept calls {v['accuracy_kept']:.1%} vs their up-share "
            f"{v['base_rate_up_kept']:.1%}"
        )
    else:
        console.print(f"veto (threshold {m['veto']['threshold']}): keeps no test row")


def print_evaluation(ev: dict) -> None:
    from tradeformer.evaluation.summary import (
        baseline_difference_table,
        cross_section_table,
        ensemble_table,
        model_table,
        sources_table,
        veto_table,
    )

    tables = [("spec vs measured: ensemble (final test period)", ensemble_table(ev))]
    tables.append(("individual models and baselines, same rows", model_table(ev)))
    if ev.get("cross_section"):
        tables.append(("cross-sectional signal, same rows", cross_section_table(ev)))
        paired = baseline_difference_table(ev)
        tables.append(("the ensemble against the xs LightGBMs, paired", paired))
        tables.append(("the veto as meta-labelling", veto_table(ev)))
    if ev.get("ablations"):
        tables.append(("improvement sources (ablations)", sources_table(ev)))
    for title, (head, rows) in tables:
        t = Table(title=title, show_lines=False)
        for col in head:
            t.add_column(col, overflow="fold")
        for r in rows:
            t.add_row(*r)
        console.print(t)
    console.print(f"[yellow]caveat:[/] {ev['survivorship']}")


def prediction_table(table: pd.DataFrame, predictor) -> Table:
    """One row per symbol: the decision and each member's forecast at the ensemble horizon:
    returns for a raw bundle; for a cross-sectional one, scores (per-date ranks in [-1, 1]
    within the training universe), never printed as returns."""
    members = list(predictor.bundle.members)
    horizon, threshold = predictor.ensemble.horizon, predictor.threshold
    scores = "score" in table.columns
    key, quantity = ("score", "score") if scores else ("expected_return", "ret")
    title = f"next trade ({horizon}-bar horizon, veto threshold {threshold:.3g})"
    if scores:
        title += (
            f"\nscores: each symbol's {horizon}-bar rank within the "
            f"{len(predictor.universe)}-symbol universe on that date, in [-1, 1] (not returns)"
        )
    t = Table(title=title)
    value = f"{horizon}-bar score" if scores else "expected return"
    head = ["symbol", "last bar", "action", value, "confidence", *members, "veto prob"]
    for col in head:
        t.add_column(col, justify="right")
    fmt = (lambda v: f"{v:+.3f}") if scores else (lambda v: f"{v:+.3%}")
    for r in table.to_dict(orient="records"):
        t.add_row(
            r["symbol"],
            when(r["timestamp"]),
            r["action"],
            fmt(r[key]),
            f"{r['confidence']:.2f}",
            *(fmt(r[prediction_column(m, quantity)]) for m in members),
            f"{r['veto_prob']:.3f}",
        )
    return t


def print_store_info(root, info: dict, *, per_symbol: bool = False) -> None:
    """`data info`: one row per timeframe with totals, the import's repairs and warnings,
    symbols whose last bar is incomplete; every symbol's entries with `per_symbol`."""
    t = Table(
        title=f"{root} (base {info['base_timeframe']}, adjusted={info['adjusted']}, "
        f"source {info['source']})"
    )
    for col in ("timeframe", "symbols", "bars", "first", "last", "incomplete last bar"):
        t.add_column(col, justify="left" if col == "timeframe" else "right")
    for tf, row in info["timeframes"].items():
        inc = row["incomplete_last_bar"]
        shown = f"{len(inc)}" + (
            f" ({', '.join(inc[:3])}{' ...' if len(inc) > 3 else ''})" if inc else ""
        )
        t.add_row(
            tf,
            f"{row['symbols']:,}",
            f"{row['bars']:,}",
            str(row["first"]),
            str(row["last"]),
            shown,
        )
    console.print(t)
    if per_symbol:
        s = Table(title="symbols")
        for col in ("symbol", "timeframe", "rows", "start", "end", "last bar complete"):
            s.add_column(col)
        for sym, tfs in info["symbols"].items():
            for tf, e in tfs.items():
                done = "-" if e["last_bar_complete"] is None else str(e["last_bar_complete"])
                s.add_row(sym, tf, f"{e['rows']:,}", str(e["start"]), str(e["end"]), done)
        console.print(s)
    inc = {tf: r["incomplete_last_bar"] for tf, r in info["timeframes"].items()}
    for tf, syms in inc.items():
        if syms:
            console.print(
                f"[yellow]note[/] {tf}: the last bar of {len(syms)} symbol(s) is incomplete "
                "(its period runs past the data); features use a bar only once complete",
                highlight=False,
            )
    for r in info["repairs"]:
        console.print(f"[yellow]repaired at import[/] {escape(_repair_line(r))}", highlight=False)
    for w in info["warnings"]:
        console.print(f"[yellow]warning at import[/] {escape(w['message'])}", highlight=False)
    if not per_symbol:
        console.print(f"{len(info['symbols'])} symbol(s); `-v data info` lists each, --json all")


def _day(stamp) -> str:
    return str(stamp).removesuffix(" 00:00:00")


def _repair_line(r: dict) -> str:
    ex = f" e.g. {', '.join(r['examples'][:3])}" if r.get("examples") else ""
    return f"{r['symbol']}: {r['rule']}: {r['action']} ({r['rows']}){ex}"
