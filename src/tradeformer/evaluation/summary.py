"""The spec's performance tables, expected vs measured, as rows (for markdown and the console)."""

from __future__ import annotations

import math

# the members of runs evaluated before the registry recorded them
SPEC_MEMBERS = {"timeformer": "TimeFormer-XL", "tft": "TFT-XL"}


def pct(x, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.{digits}f}%"


def num(x, digits: int = 2) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def ci(pair, fmt=pct) -> str:
    if not pair or any(v is None or not math.isfinite(v) for v in pair):
        return ""
    return f" [{fmt(pair[0])}, {fmt(pair[1])}]"


def ensemble_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """The spec's "Ensemble Performance" table with measured columns."""
    h = str(ev["horizon"])
    f = ev["forecasts"][h]
    v = ev["veto"]
    ls = ev["backtests"]["long_short"]
    lo = ev["backtests"]["long_only"]
    sys, ens, bh = ls["ensemble+veto"], ls["ensemble"], lo["buy_and_hold"]
    head = [
        "Metric",
        "Spec expects",
        f"Ensemble + veto (coverage {pct(v['coverage'])})",
        "Ensemble, no veto",
        "Reference",
    ]
    kept_acc = v.get("accuracy_kept", float("nan"))
    rows = [
        [
            f"Direction accuracy ({h}-bar)",
            ev["spec"]["accuracy"],
            pct(kept_acc) + ci(v.get("accuracy_kept_ci")) + f" (majority of kept rows "
            f"{pct(v.get('majority_rate_kept', float('nan')))})",
            pct(f["ensemble"]["accuracy"]) + ci(f["ensemble"].get("accuracy_ci")),
            f"always up {pct(f['always_up']['accuracy'])}; classical LightGBM "
            f"{pct(f['classical_lgbm']['accuracy'])}",
        ],
        [
            "Sharpe (long-short, net)",
            ev["spec"]["sharpe"],
            num(sys["sharpe"]) + ci(sys.get("sharpe_ci"), num),
            num(ens["sharpe"]) + ci(ens.get("sharpe_ci"), num),
            f"buy and hold {num(bh['sharpe'])}{ci(bh.get('sharpe_ci'), num)}",
        ],
        [
            "Win rate (net of costs)",
            ev["spec"]["win_rate"],
            pct(sys["win_rate"]),
            pct(ens["win_rate"]),
            f"always long, {h}-bar trades {pct(lo['always_up']['win_rate'])}",
        ],
        [
            "Max drawdown",
            ev["spec"]["max_drawdown"],
            pct(abs(sys["max_drawdown"])),
            pct(abs(ens["max_drawdown"])),
            f"buy and hold {pct(abs(bh['max_drawdown']))}",
        ],
        [
            "Avg return per trade (net)",
            ev["spec"]["avg_trade_return"],
            pct(sys["avg_trade_return"], 3),
            pct(ens["avg_trade_return"], 3),
            f"{sys['n_trades']:,} / {ens['n_trades']:,} trades",
        ],
    ]
    return head, rows


def model_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """The spec's "Individual Model Performance" table plus the baselines, same rows."""
    h = str(ev["horizon"])
    f = ev["forecasts"][h]
    spec = ev["spec"]
    head = [
        "Model",
        "Spec accuracy",
        "Accuracy [95% CI]",
        "Majority",
        "F1",
        "ROC-AUC [95% CI]",
        "Rank IC (per date)",
    ]
    members = ev.get("members") or SPEC_MEMBERS
    names = {
        **{m: (title, spec.get(m, {}).get("accuracy", "-")) for m, title in members.items()},
        "ensemble": ("Ensemble (no veto)", spec["accuracy"]),
        "classical_lgbm": ("LightGBM, 29 classical features", spec["baselines"]["classical"]),
        "classical_lgbm_xs": ("LightGBM, cross-sectional label", "-"),
        "sma_crossover": ("SMA 20/50 crossover", spec["baselines"]["sma_crossover"]),
        "random": ("Random", spec["baselines"]["random"]),
        "always_up": ("Always up", "-"),
    }
    rows = []
    for key, (label, expect) in names.items():
        if key not in f:
            continue
        m = f[key]
        rows.append(
            [
                label,
                expect,
                pct(m["accuracy"]) + ci(m.get("accuracy_ci")),
                pct(m["majority_rate"]),
                num(m["f1"]),
                num(m["auc"], 3) + ci(m.get("auc_ci"), lambda x: num(x, 3)),
                num(m["date_rank_ic"], 3),
            ]
        )
    vc = ev["veto"]["classifier"]
    rows.append(
        [
            "LightGBM veto (is the ensemble's call right?)",
            spec["veto"]["accuracy"],
            pct(vc["accuracy"]) + ci(vc.get("accuracy_ci")),
            pct(vc["majority_rate"]),
            num(vc["f1"]),
            num(vc["auc"], 3) + ci(vc.get("auc_ci"), lambda x: num(x, 3)),
            "-",
        ]
    )
    return head, rows


STRATEGIES = {
    "ensemble+veto": "Ensemble + veto",
    "ensemble": "Ensemble, no veto",
    "ensemble_xs": "Ensemble, top/bottom decile per date",
    "classical_lgbm": "LightGBM (classical)",
    "classical_lgbm_xs": "LightGBM, cross-sectional label, deciles",
    "sma_crossover": "SMA 20/50",
    "random": "Random",
    "always_up": "Always up",
    "buy_and_hold": "Buy and hold",
}


def backtest_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """Every backtest: strategy x long-short / long-only, net of costs."""
    head = [
        "Strategy",
        "Variant",
        "Sharpe [95% CI]",
        "Annual return",
        "Max drawdown",
        "Win rate",
        "Avg trade",
        "Coverage",
        "Turnover / yr",
    ]
    rows = []
    members = {m: f"{t} alone" for m, t in (ev.get("members") or SPEC_MEMBERS).items()}
    for variant, block in ev["backtests"].items():
        for key, st in block.items():
            rows.append(
                [
                    members.get(key) or STRATEGIES.get(key, key),
                    variant.replace("_", "-"),
                    num(st["sharpe"]) + ci(st.get("sharpe_ci"), num),
                    pct(st["annual_return"]),
                    pct(abs(st["max_drawdown"])),
                    pct(st["win_rate"]),
                    pct(st["avg_trade_return"], 3),
                    pct(st["coverage"]),
                    num(st["annual_turnover"], 1) + "x",
                ]
            )
    return head, rows


def sources_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """The spec's "Improvement Sources": accuracy gain of each input = full minus without."""
    head = ["Source", "Spec claims", "Measured gain [95% CI]", "AUC without", "Sharpe without"]
    rows = []
    ab = {r["variant"]: r for r in ev.get("ablations", [])}
    full = ab.get("full")
    labels = {
        "no_embedding": ("Foundation embedding", ev["spec"]["sources"]["no_embedding"]),
        "no_mtf": ("Multi-timeframe alignment", ev["spec"]["sources"]["no_mtf"]),
        "no_smc": ("Smart money concepts", ev["spec"]["sources"]["no_smc"]),
        "no_ta": ("Technical indicators", "-"),
        **{
            f"{m}_only": (f"Ensemble vs {title} alone", "part of +2-3%")
            for m, title in (ev.get("members") or SPEC_MEMBERS).items()
        },
    }
    for key, (label, claim) in labels.items():
        if key not in ab:
            continue
        r = ab[key]
        c = r.get("delta_accuracy_ci")
        gain_ci = ci((-c[1], -c[0]), lambda x: f"{100 * x:+.1f}") if c else ""
        rows.append(
            [
                label,
                claim,
                _signed(-r["delta_accuracy"]) + gain_ci,
                num(r["auc"], 3),
                num(r["sharpe_long_short"]),
            ]
        )
    v = ev["veto"]
    if full and "accuracy_kept" in v:
        rows.append(
            [
                "Veto (accuracy of kept calls minus all calls)",
                ev["spec"]["sources"]["veto"],
                _signed(v["accuracy_kept"] - full["accuracy"])
                + f" (kept rows' majority {pct(v['majority_rate_kept'])})",
                "-",
                num(ev["backtests"]["long_short"]["ensemble+veto"]["sharpe"]),
            ]
        )
    return head, rows


def _signed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:+.1f} pp"


def markdown(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def cross_section_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """Per-date rank IC (NW t, CI), ICIR and the decile long-short portfolio of every
    forecast at every horizon, on the same test rows."""
    xs = ev.get("cross_section")
    head = [
        "Horizon",
        "Forecast",
        "Per-date rank IC [95% CI]",
        "NW t",
        "ICIR",
        "Decile L/S Sharpe, net [95% CI]",
        "Turnover / yr",
    ]
    if not xs:
        return head, []
    rows = []
    for h, block in xs["by_horizon"].items():
        for key, s in block.items():
            rows.append(
                [
                    f"{h} bars",
                    xs["names"].get(key, key),
                    num(s["date_rank_ic"], 4) + ci(s.get("date_rank_ic_ci"), lambda v: num(v, 4)),
                    num(s["date_rank_ic_nw_t"]),
                    num(s["icir"], 3),
                    num(s["ls_sharpe"]) + ci(s.get("ls_sharpe_ci"), num),
                    num(s["ls_annual_turnover"], 1) + "x",
                ]
            )
    return head, rows


def baseline_difference_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """The ensemble's per-date rank IC minus each cross-sectional LightGBM's, paired on the
    same rows and dates (a 20-date block bootstrap resampling the same dates for both)."""
    xs = ev.get("cross_section") or {}
    head = ["Horizon", "Ensemble minus", "Ensemble", "Baseline", "Difference [95% CI]", "NW t"]
    rows = []
    for h, block in (xs.get("ensemble_vs_baselines") or {}).items():
        for key, d in block.items():
            rows.append(
                [
                    f"{h} bars",
                    xs.get("names", {}).get(key, key),
                    num(d["ours"], 4),
                    num(d["theirs"], 4),
                    f"{d['difference']:+.4f}" + ci(d.get("difference_ci"), lambda v: f"{v:+.4f}"),
                    num(d["difference_nw_t"]),
                ]
            )
    return head, rows


def veto_table(ev: dict) -> tuple[list[str], list[list[str]]]:
    """The veto as meta-labelling: side accuracy on kept rows vs their base rate and a
    random veto at the same coverage."""
    v = (ev.get("cross_section") or {}).get("veto") or {}
    head = [
        "Coverage",
        "Side accuracy, kept [95% CI]",
        "Kept rows above median",
        "All rows",
        "Random veto, same coverage [2.5-97.5%]",
    ]
    if "accuracy_kept" not in v:
        return head, []
    row = [
        pct(v["coverage"]) + f" ({v['n_kept']:,} rows)",
        pct(v["accuracy_kept"]) + ci(v.get("accuracy_kept_ci")),
        pct(v["base_rate_kept"]),
        pct(v["accuracy_all"]),
        pct(v["random_veto_accuracy"]) + ci(v.get("random_veto_range")),
    ]
    return head, [row]
