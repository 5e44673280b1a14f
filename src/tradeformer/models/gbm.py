"""The boosted ranking member (`kind: gbm`): one LightGBM model per horizon on the row's
context columns (after the run's normalisation, market context included) and its
price-window summaries (`dataset.summaries`), fitted to the member target the networks learn
(the per-date rank of the forward return in the cross-sectional mode), early-stopped on the
validation rows' mean per-date rank IC. Registered like a network: it trains on the same
folds, its validation predictions are out of fold, it joins the ensemble and the veto, and
the bundle holds it as LightGBM text (`<member>.h<H>.lgb.txt`).

Its outputs: `ret` = the boosted score (a forecast of the target; with the binary objective
2 P(above the date's median) - 1), `dir_prob` = that score mapped to [0, 1] ((score + 1) / 2
clipped: for the regression objectives a rank position, not a calibrated probability),
`uncertainty` NaN (it has none to give)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import numpy as np
from rich.progress import Progress

from tradeformer.dataset.summaries import YEAR, price_summaries
from tradeformer.dataset.universe import Universe
from tradeformer.models.base import PresetConfig
from tradeformer.stats.ranking import per_date_rank_ic


@dataclass(frozen=True)
class GBMConfig(PresetConfig):
    # regression | huber: the member target; binary: above the date's median (the target
    # direction); lambdarank: per-date quintiles of the target as graded relevance
    objective: str = "regression"
    inputs: str = "all"  # all | context | summaries
    num_leaves: int = 31
    learning_rate: float = 0.05
    min_data_in_leaf: int = 1000
    feature_fraction: float = 0.7
    bagging_fraction: float = 0.7
    bagging_freq: int = 1
    lambda_l2: float = 10.0
    num_boost_round: int = 600
    early_stopping_rounds: int = 60  # 0: every round, no early stopping
    # what stops it: `inner` = the last `inner_dates` dates of its own training rows (after a
    # gap of `gap_dates`), so the fold's validation block stays out of sample; `validation` =
    # the fold's validation block (as the networks' kept epoch is chosen)
    stop_on: str = "inner"
    inner_dates: int = 250
    gap_dates: int = 10
    max_train_rows: int | None = None  # a random subset of the training rows (None: all)
    num_threads: int = 2
    # set by the pipeline like the networks' (ignored: the member reads whole rows)
    embed_dim: int = 0
    lookback: int = 120
    context_dim: int = 0

    PRESETS: ClassVar[dict[str, dict]] = {
        "small": {},
        "spec": {"num_leaves": 63, "learning_rate": 0.03, "num_boost_round": 2000},
    }


def member_features(
    u: Universe, rows: np.ndarray | None = None, inputs: str = "all"
) -> tuple[np.ndarray, list[str]]:
    """(n, F) inputs of the boosted member at `rows` (default: every row): context columns
    and/or price-window summaries (computed once per universe and kept in its `meta`)."""
    if inputs not in ("all", "context", "summaries"):
        raise ValueError(f"gbm inputs must be all, context or summaries, not {inputs!r}")
    parts, names = [], []
    if inputs in ("all", "context"):
        parts.append(np.asarray(u.context if rows is None else u.context[rows], "float32"))
        names += list(u.context_names)
    if inputs in ("all", "summaries"):
        if "price_summaries" not in u.meta:
            u.meta["price_summaries"] = price_summaries(u)
        summaries, summary_names = u.meta["price_summaries"]
        parts.append(summaries if rows is None else summaries[rows])
        names += summary_names
    return np.concatenate(parts, axis=1), names


class GBMRanker:
    """A trained boosted member: one booster per horizon (not a torch module)."""

    tabular: ClassVar[bool] = True
    veto_diagnostics: ClassVar[tuple[str, ...]] = ()
    history_bars: ClassVar[int] = YEAR + 1  # the 52-week and 12-1 momentum columns

    def __init__(self, config: GBMConfig):
        self.config = config
        self.by_seed: list[list[lgb.Booster]] = []  # [seed][horizon]
        self.n_seeds = 1

    @property
    def boosters(self) -> list[lgb.Booster]:
        return [b for per_seed in self.by_seed for b in per_seed]

    def init_arguments(self) -> dict:
        return {}

    def eval(self) -> GBMRanker:  # the networks' interface
        return self

    # ------------------------------------------------------------------ training
    def params(self, seed: int) -> dict:
        c = self.config
        return {
            "objective": c.objective,
            "num_leaves": c.num_leaves,
            "learning_rate": c.learning_rate,
            "min_data_in_leaf": c.min_data_in_leaf,
            "feature_fraction": c.feature_fraction,
            "bagging_fraction": c.bagging_fraction,
            "bagging_freq": c.bagging_freq,
            "lambda_l2": c.lambda_l2,
            "num_threads": c.num_threads,
            "seed": seed,
            "deterministic": True,
            "force_col_wise": True,
            "metric": "None",
            "verbose": -1,
        }

    def fit(
        self,
        u: Universe,
        train: np.ndarray,
        valid: np.ndarray,
        seeds: tuple[int, ...] = (0,),
        progress: bool = False,
        label: str = "gbm",
    ) -> list[dict]:
        """For each seed, one booster per horizon on `train` (a seeded row subset when
        `max_train_rows` caps it), stopped on `valid`'s mean per-date rank IC; returns one
        history entry per (seed, horizon): best round, its validation rank IC. `progress`: a
        bar of boosting rounds per booster."""
        with Progress(disable=not progress, transient=True) as bar:
            self._bar, self._label = bar, label
            try:
                return self._fit_seeds(u, train, valid, seeds)
            finally:
                del self._bar, self._label

    def _fit_seeds(self, u, train, valid, seeds) -> list[dict]:
        codes = np.unique(u.timestamps, return_inverse=True)[1]
        if self.config.stop_on == "inner":
            train, valid = inner_split(train, codes, self.config.inner_dates, self.config.gap_dates)
        elif self.config.stop_on != "validation":
            raise ValueError(
                f"gbm stop_on must be inner or validation, not {self.config.stop_on!r}"
            )
        valid = valid[np.argsort(codes[valid], kind="stable")]  # whole dates together
        history, self.by_seed = [], []
        for seed in seeds:
            rows = train
            cap = self.config.max_train_rows
            if cap and len(rows) > cap:
                rows = np.sort(np.random.default_rng(seed).choice(rows, cap, replace=False))
            rows = rows[np.argsort(codes[rows], kind="stable")]  # whole dates together
            boosters = []
            x_tr, names = member_features(u, rows, self.config.inputs)
            x_va, _ = member_features(u, valid, self.config.inputs)
            for j, h in enumerate(u.horizons):
                data = (
                    (x_tr, u.y_ret[rows, j], u.y_dir[rows, j], codes[rows]),
                    (x_va, u.y_ret[valid, j], u.y_dir[valid, j], codes[valid]),
                )
                booster, entry = self._fit_horizon(names, *data, seed)
                boosters.append(booster)
                history.append({"seed": seed, "horizon": h, **entry})
            self.by_seed.append(boosters)
        self.n_seeds = len(self.by_seed)
        return history

    def _fit_horizon(self, names, train, valid, seed):
        """One booster on (inputs, target, date codes) of the training rows, stopped on the
        validation rows' mean per-date rank IC (rows without a target left out)."""
        (x_tr, y_tr, d_tr, c_tr), (x_va, y_va, d_va, c_va) = train, valid
        ok_tr, ok_va = np.isfinite(y_tr), np.isfinite(y_va)
        label_tr, label_va = y_tr[ok_tr], y_va[ok_va]
        if self.config.objective == "binary":  # above the date's median: the target direction
            ok_tr, ok_va = ok_tr & np.isfinite(d_tr), ok_va & np.isfinite(d_va)
            label_tr, label_va = d_tr[ok_tr], d_va[ok_va]
        params = self.params(seed)
        ds_kw: dict = {}
        va_kw: dict = {}
        if self.config.objective == "lambdarank":
            label_tr = _quintiles(label_tr, c_tr[ok_tr])
            label_va = _quintiles(label_va, c_va[ok_va])
            ds_kw = {"group": _group_sizes(c_tr[ok_tr])}
            va_kw = {"group": _group_sizes(c_va[ok_va])}
        dtrain = lgb.Dataset(x_tr[ok_tr], label_tr, feature_name=names, **ds_kw)
        dvalid = lgb.Dataset(x_va[ok_va], label_va, reference=dtrain, **va_kw)
        va_codes, va_target = c_va[ok_va], y_va[ok_va]

        def rank_ic(pred, _data):
            ic = per_date_rank_ic(pred, va_target, va_codes).mean()
            return "rank_ic", float(ic) if np.isfinite(ic) else 0.0, True

        stop = self.config.early_stopping_rounds
        task = self._bar.add_task(
            f"{self._label} seed {seed} rounds", total=self.config.num_boost_round
        )
        callbacks = [_advance(self._bar, task)]
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=self.config.num_boost_round,
            valid_sets=[dvalid],
            feval=rank_ic,
            callbacks=[*callbacks, lgb.early_stopping(stop, verbose=False)] if stop else callbacks,
        )
        self._bar.remove_task(task)
        best = booster.best_iteration or booster.current_iteration()
        score = booster.best_score.get("valid_0", {}).get("rank_ic", float("nan"))
        return booster, {"best_round": int(best), "val_rank_ic": float(score)}

    # ------------------------------------------------------------------ prediction
    def predict_rows(self, u: Universe, rows: np.ndarray) -> dict[str, np.ndarray]:
        """The member's outputs at `rows` (the keys `predict_models` returns)."""
        xr, _ = member_features(u, rows, self.config.inputs)
        ret = np.mean(
            [np.stack([b.predict(xr) for b in per_seed], axis=1) for per_seed in self.by_seed],
            axis=0,
        ).astype("float32")
        if self.config.objective == "binary":  # P(above the median) on the target's scale
            ret = 2.0 * ret - 1.0
        n, k = ret.shape
        return {
            "ret": ret,
            "dir_prob": np.clip((ret + 1.0) / 2.0, 0.0, 1.0).astype("float32"),
            "uncertainty": np.full((n, k), np.nan, dtype="float32"),
            "attn_entropy": np.full(n, np.nan, dtype="float32"),
            "q_range": np.full((n, k), np.nan, dtype="float32"),
        }

    def importance(self) -> dict[str, float]:
        """Total split gain per input over every booster, largest first."""
        total: dict[str, float] = {}
        for b in self.boosters:
            gains = b.feature_importance("gain")
            for f, g in zip(b.feature_name(), gains, strict=True):
                total[f] = total.get(f, 0.0) + float(g)
        return dict(sorted(total.items(), key=lambda kv: -kv[1]))

    # ------------------------------------------------------------------ files
    def save(self, folder: Path, name: str) -> None:
        """Each booster as LightGBM text, cut at its best round."""
        for i, per_seed in enumerate(self.by_seed):
            for j, b in enumerate(per_seed):
                path = Path(folder) / f"{name}.s{i}.h{j}.lgb.txt"
                b.save_model(str(path), num_iteration=b.best_iteration or None)

    def load(self, folder: Path, name: str, n_horizons: int) -> GBMRanker:
        self.by_seed = [
            [lgb.Booster(model_file=str(Path(folder) / f)) for f in per_seed]
            for per_seed in self.file_names(name, n_horizons)
        ]
        return self

    def file_names(self, name: str, n_horizons: int) -> list[list[str]]:
        return [
            [f"{name}.s{i}.h{j}.lgb.txt" for j in range(n_horizons)] for i in range(self.n_seeds)
        ]


def inner_split(
    rows: np.ndarray, codes: np.ndarray, n_dates: int, gap: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fitting rows, stopping rows) of training rows: the last `n_dates` dates stop, the
    `gap` dates before them (labels reaching into the stopping block) are left out."""
    dates = np.unique(codes[rows])
    if len(dates) < n_dates + gap + 50:
        raise ValueError(f"{len(dates)} training dates: too few for an inner stopping block")
    stop_from, fit_to = dates[-n_dates], dates[-(n_dates + gap + 1)]
    return rows[codes[rows] <= fit_to], rows[codes[rows] >= stop_from]


def _group_sizes(sorted_codes: np.ndarray) -> np.ndarray:
    """Rows per date of date-sorted rows (LightGBM's query groups)."""
    return np.diff(np.flatnonzero(np.r_[True, np.diff(sorted_codes) != 0, True]))


def _quintiles(y: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-date quintile (0..4) of y: the graded relevance a ranking objective wants."""
    from tradeformer.dataset.cross_section import cs_rank

    r = cs_rank(y.astype("float64"), codes)  # [-1, 1]
    return np.clip(np.floor((r + 1.0) / 2.0 * 5.0), 0, 4).astype("int32")


def _advance(bar: Progress, task) -> object:
    """A LightGBM callback that advances `task` by one boosting round."""

    def callback(_env) -> None:
        bar.advance(task)

    callback.order = 5  # before early stopping (which ends the loop by raising)
    return callback
