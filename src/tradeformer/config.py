"""The experiment config: one YAML file, validated with pydantic; each stage reads its section.

`tradeformer train --config configs/demo.yaml`; the resolved config is saved with every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tradeformer.features.pipeline import FeatureConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    source: str = "bundled"  # "bundled", a bar store, or a folder/file of CSV/Parquet bars
    timeframe: str | None = None
    symbols: list[str] | None = None
    adjust: bool = False
    min_bars: int = 300


class EmbeddingConfig(_Strict):
    backend: Literal["local", "chronos", "kronos", "none"] = "local"
    model_id: str | None = None
    tokenizer_id: str | None = None
    local_steps: int = 1500
    batch_size: int = 512


class CalendarConfig(_Strict):
    """Walk-forward calendar: validation blocks before a final, untouched test period."""

    start: str | None = None  # first decision date used at all
    test_start: str  # first date of the final test period (touched once, at the end)
    test_end: str | None = None
    n_folds: int = Field(3, ge=2)
    val_bars: int = Field(250, ge=20)  # length of each validation block (dates)
    scheme: Literal["expanding", "sliding"] = "expanding"
    train_bars: int | None = None  # sliding window length (dates)
    purge_bars: int | None = None  # default: the longest label horizon
    embargo_bars: int = 5


class ModelChoice(_Strict):
    preset: str = "small"
    overrides: dict = Field(default_factory=dict)
    # this model's changes to the `training` section (e.g. a larger `max_samples_per_epoch`
    # for the faster network), validated as a TrainingConfig
    training: dict = Field(default_factory=dict)


def model_training(base: TrainingConfig, choice: ModelChoice) -> TrainingConfig:
    """The training section with one model's overrides applied (and validated)."""
    if not choice.training:
        return base
    return TrainingConfig(**{**base.model_dump(), **choice.training})


class ModelsConfig(_Strict):
    timeformer: ModelChoice = ModelChoice()
    tft: ModelChoice = ModelChoice()


class TrainingConfig(_Strict):
    lookback: int = 120
    epochs: int = 5
    batch_size: int = 256
    lr: float = 1e-4
    max_lr: float = 1e-3
    weight_decay: float = 1e-5
    pct_start: float = 0.3
    grad_clip: float = 1.0
    patience: int = 2
    max_samples_per_epoch: int | None = None
    max_eval_samples: int | None = None
    batching: Literal["random", "dates"] = "random"  # dates: whole cross-sections per batch
    rank_loss_weight: float = Field(0.0, ge=0.0)  # + w * (1 - per-date correlation)
    select_on: Literal["loss", "rank_ic"] = "loss"  # early stopping / best checkpoint
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    num_threads: int | None = None


class VetoConfig(_Strict):
    params: dict = Field(
        default_factory=lambda: {
            "objective": "binary",
            "metric": "auc",
            "boosting_type": "gbdt",
            "num_leaves": 63,
            "learning_rate": 0.05,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 5,
            "max_depth": 7,
            "min_data_in_leaf": 50,
            "lambda_l1": 0.1,
            "lambda_l2": 0.1,
            "verbose": -1,
        }
    )
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    threshold: float = 0.65
    # keep this share of rows: the threshold becomes the (1 - coverage) quantile of the veto's
    # probabilities on the validation fold it stopped on (None: the fixed `threshold`)
    coverage: float | None = Field(None, gt=0.0, le=1.0)


class EnsembleConfig(_Strict):
    """Spec: 0.35 * TimeFormer + 0.30 * TFT + 0.35 * their average (= 0.525 / 0.475)."""

    timeformer: float = 0.35
    tft: float = 0.30
    average: float = 0.35
    horizon: int = 3
    # returns: weighted predicted returns; ranks: weighted per-date ranks of each model's
    # prediction (in [-1, 1]; > 0 = above the date's median), for cross-sectional targets
    combine: Literal["returns", "ranks"] = "returns"

    @model_validator(mode="after")
    def _sums_to_one(self) -> EnsembleConfig:
        total = self.timeformer + self.tft + self.average
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"ensemble weights must sum to 1, got {total}")
        return self


class TargetConfig(_Strict):
    """What the networks learn. raw: the forward return (`features.label_kind`), direction
    = up; excess: minus the date's cross-sectional mean; cs_rank: the date's cross-sectional
    rank mapped to [-1, 1]. For excess and cs_rank, direction = above the date's median."""

    kind: Literal["raw", "excess", "cs_rank"] = "raw"


class NormalizationConfig(_Strict):
    """Input normalisation before the train-fitted scaler. cs_rank / cs_zscore use only the
    same date's values of the symbols present at that date (causal). `scaler`: standard
    (mean/std) or robust (median/IQR), fitted on each fold's training rows, then clipped.
    `market_context` appends the cross-section's mean recent returns, dispersion and
    volatility at t to the context columns."""

    context: Literal["none", "cs_rank", "cs_zscore"] = "none"
    embedding: Literal["none", "cs_rank", "cs_zscore"] = "none"
    scaler: Literal["standard", "robust"] = "standard"
    clip: float = Field(10.0, gt=0.0)
    market_context: bool = False

    @property
    def cross_sectional(self) -> bool:
        return self.context != "none" or self.embedding != "none" or self.market_context


class ExperimentConfig(_Strict):
    name: str
    seed: int = 0
    runs_dir: str = "runs"
    cache_dir: str = ".tradeformer_cache"
    write_dataset_table: bool = True
    data: DataConfig = DataConfig()
    features: FeatureConfig = FeatureConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    calendar: CalendarConfig
    target: TargetConfig = TargetConfig()
    normalization: NormalizationConfig = NormalizationConfig()
    models: ModelsConfig = ModelsConfig()
    training: TrainingConfig = TrainingConfig()
    veto: VetoConfig = VetoConfig()
    ensemble: EnsembleConfig = EnsembleConfig()

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        for name in ("timeformer", "tft"):
            try:
                model_training(self.training, getattr(self.models, name))
            except ValidationError as e:
                bad = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
                raise ValueError(f"models.{name}.training: {bad}") from None
        if self.ensemble.horizon not in self.features.horizons:
            raise ValueError(
                f"ensemble.horizon {self.ensemble.horizon} is not a label horizon "
                f"{list(self.features.horizons)}"
            )
        return self


class ConfigError(ValueError):
    """A config file that does not validate; the message lists each field and problem."""


def load_config(path: str | Path, overrides: dict | None = None) -> ExperimentConfig:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    for key, value in (overrides or {}).items():
        node = raw
        *parents, last = key.split(".")
        for k in parents:
            node = node.setdefault(k, {})
        node[last] = value
    try:
        return ExperimentConfig(**raw)
    except ValidationError as e:
        lines = [f"{p}: {e.error_count()} problem(s):"]
        for err in e.errors():
            where = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"  - {where}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
