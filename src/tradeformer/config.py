"""The experiment config: one YAML file, validated with pydantic; each stage reads its section.

`tradeformer train --config configs/demo.yaml`; the resolved config is saved with every run.
A leaf module: it imports no other part of tradeformer at import time (the feature parameter
defaults and the registry are looked up when a config is built or checked).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tradeformer.errors import ConfigError

DEFAULT_MEMBERS = {"timeformer": 0.35, "tft": 0.30}  # the spec's members and weights
MEMBER_NAME = re.compile(r"^[a-z][a-z0-9]*$")  # no "_": columns are `<member>_<quantity>`


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (lists and empty dicts kept whole): a config's keys
    as `--set` names them."""
    out: dict[str, object] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _feature_defaults(family: str) -> dict:
    from tradeformer.features.smc import SMCParams
    from tradeformer.features.technical import TechnicalParams

    return asdict({"technical": TechnicalParams, "smc": SMCParams}[family]())


class FeatureConfig(_Strict):
    """Options of the classical feature build (saved with every table)."""

    timeframe: str | None = None  # bars to compute on; default: the store's base timeframe
    use_intraday: bool = True  # MTF 4H/1H from the store's intraday bars when present
    horizons: tuple[int, ...] = (3, 5, 10)
    label_kind: Literal["log", "simple"] = "log"
    calendar: str = "XNYS"
    technical: dict = Field(default_factory=lambda: _feature_defaults("technical"))
    smc: dict = Field(default_factory=lambda: _feature_defaults("smc"))
    mtf: dict = Field(default_factory=lambda: {"ema_fast": 9, "ema_slow": 21})

    def params(self):
        """The parameter objects of the TA, SMC and MTF columns."""
        from tradeformer.features.mtf import MTFParams
        from tradeformer.features.smc import SMCParams
        from tradeformer.features.technical import TechnicalParams

        return (
            TechnicalParams(**self.technical),
            SMCParams(**self.smc),
            MTFParams(calendar=self.calendar, **self.mtf),
        )

    def fingerprint(self) -> str:
        from tradeformer.features.columns import FEATURE_VERSION

        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True) + FEATURE_VERSION
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


class DataConfig(_Strict):
    # "bundled", a bar store, a folder/file of CSV/Parquet bars, or a list of folders/files
    # (imported together into one store: one file per symbol across all of them)
    source: str | list[str] = "bundled"
    timeframe: str | None = None
    symbols: list[str] | None = None
    adjust: bool = False
    min_bars: int = 300
    # reject: refuse bars breaking a rule; repair: fix or drop them (each repair is recorded
    # in the store's manifest and the run's data.json)
    policy: Literal["reject", "repair"] = "reject"
    # names no training or choice ever sees: a stable hash of (seed, symbol) puts this share
    # of the symbols aside (listed in data.json and the bundle; `evaluate --heldout` scores them)
    holdout_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    holdout_seed: int = 0

    @property
    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)


class EmbeddingConfig(_Strict):
    backend: Literal["local", "chronos", "kronos", "none"] = "local"
    model_id: str | None = None
    tokenizer_id: str | None = None
    local_steps: int = 1500
    batch_size: int = 512
    # how the universe's (N, E) embedding is stored: a memory map under the cache, float32 or
    # float16 (half the disk and page cache; the accuracy cost is measured in docs/scale.md)
    storage: Literal["float32", "float16"] = "float32"
    # the local encoder's seed; None: the experiment's `seed`. `tune` pins it to the study's
    # base seed so that trials (which vary `seed`) share one cached embedding
    seed: int | None = None


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
    """One ensemble member: a registered network (`kind`, default: the member's own name)."""

    kind: str | None = None
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
    # train every member (or, in a member's `training`, that one) with this many seeds and
    # average their forecasts (`models/seeds.py`); the cost is k times the training time
    seeds: int = Field(1, ge=1)
    # where batches are gathered: `host` (numpy, one thread ahead), `device` (the universe on
    # the GPU once, windows gathered there) or `auto` (device on a GPU with room for it)
    inputs: Literal["auto", "host", "device"] = "auto"
    # torch.compile the forward pass and loss (a one-off compile; then fewer, fused kernels)
    compile: bool = False
    compile_mode: Literal[
        "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"
    ] = "default"
    # the batch size `lr`/`max_lr` were tuned at: at another batch size both are scaled by
    # (batch_size / lr_reference_batch) ** 0.5 (sqrt) or ** 1 (linear); None: used as written
    lr_reference_batch: int | None = Field(None, ge=1)
    lr_scaling: Literal["sqrt", "linear"] = "sqrt"


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
    # false: the veto is still trained on the OOF rows and its probability reported (and
    # judged against a random veto), but it gates nothing: every row gets BUY or SELL
    enabled: bool = True


class EnsembleConfig(_Strict):
    """Spec: 0.35 * TimeFormer + 0.30 * TFT + 0.35 * their average (= 0.525 / 0.475).
    `weights`: one per member of `models`; `average`: the weight of the members' mean."""

    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_MEMBERS))
    average: float = 0.35
    horizon: int = 3
    # returns: weighted predicted returns; ranks: weighted per-date ranks of each model's
    # prediction (in [-1, 1]; > 0 = above the date's median), for cross-sectional targets
    combine: Literal["returns", "ranks"] = "returns"
    # fixed: `weights` and `average` as written (the spec's); oof_rank_ic: each member's weight
    # proportional to its mean per-date rank IC on the out-of-fold (validation) rows at
    # `horizon` (negative ICs weigh 0; all <= 0: equal weights), set by the veto stage and
    # written back into the run's config.yaml (never chosen on the test period);
    # oof_significant: the same, members whose daily OOF ICs have a Newey-West t under `min_t`
    # weigh 0 (none clears it: the oof_rank_ic weights)
    weighting: Literal["fixed", "oof_rank_ic", "oof_significant"] = "fixed"
    min_t: float = Field(2.0, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _named_weights(cls, raw):
        """Configs written before `weights` (`timeformer: 0.35, tft: 0.30`) still load."""
        if isinstance(raw, dict) and set(raw) & set(DEFAULT_MEMBERS) and "weights" not in raw:
            raw = dict(raw)
            raw["weights"] = {k: raw.pop(k) for k in DEFAULT_MEMBERS if k in raw}
        return raw

    @model_validator(mode="after")
    def _sums_to_one(self) -> EnsembleConfig:
        total = sum(self.weights.values()) + self.average
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
    # append the per-date ranks of the 15 price-window summaries (`dataset/summaries.py`:
    # trailing returns, momentum, volatility, 52-week distances, volume z-score, ...) to the
    # context columns: what the boosted member reads, handed to the networks per bar
    price_summaries: bool = False

    @property
    def cross_sectional(self) -> bool:
        return (
            self.context != "none"
            or self.embedding != "none"
            or self.market_context
            or self.price_summaries
        )


class ExecutionConfig(_Strict):
    """Where the per-symbol stages run (import/validate, features, embeddings, the 541-D
    table, batch prediction's features): `process` is a local process pool (no extra
    dependency); `dask` a `dask.distributed` cluster at `address`, or a LocalCluster of
    `workers` processes when no address is given (`pip install tradeformer[dask]`)."""

    engine: Literal["process", "dask"] = "process"
    address: str | None = None  # e.g. tcp://scheduler:8786 (dask only)
    workers: int | None = Field(default=None, ge=1)  # default: every local core

    @model_validator(mode="after")
    def _address_needs_dask(self) -> ExecutionConfig:
        if self.address and self.engine != "dask":
            raise ValueError("execution.address is a Dask scheduler: set execution.engine: dask")
        return self


class TrackingConfig(_Strict):
    """MLflow tracking of `train`, `evaluate` and `tune` (`pip install -e ".[track]"`): the
    resolved config as params, per-epoch metrics per member and fold, stage seconds, the
    scorecard, the report and bundle manifest as artefacts. Off by default (or `--track`)."""

    enabled: bool = False
    uri: str | None = None  # any MLflow tracking URI; default sqlite:///<runs_dir>/mlflow.db
    experiment: str | None = None  # default: the config's name


class ExperimentConfig(_Strict):
    name: str
    seed: int = 0
    runs_dir: str = "runs"
    cache_dir: str = ".tradeformer_cache"
    write_dataset_table: bool = True
    data: DataConfig = DataConfig()
    features: FeatureConfig = Field(default_factory=FeatureConfig)  # no import-time defaults
    embedding: EmbeddingConfig = EmbeddingConfig()
    calendar: CalendarConfig
    target: TargetConfig = TargetConfig()
    normalization: NormalizationConfig = NormalizationConfig()
    # the ensemble's members, by name, in order: {name: {kind, preset, overrides, training}}
    models: dict[str, ModelChoice] = Field(
        default_factory=lambda: {name: ModelChoice() for name in DEFAULT_MEMBERS}
    )
    training: TrainingConfig = TrainingConfig()
    veto: VetoConfig = VetoConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    execution: ExecutionConfig = ExecutionConfig()
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if not self.models:
            raise ValueError("models: at least one member")
        for name, choice in self.models.items():
            if not MEMBER_NAME.match(name) or name == "ensemble":
                raise ValueError(
                    f"models.{name}: a member name is lower-case letters and digits "
                    "(not 'ensemble')"
                )
            try:
                model_training(self.training, choice)
            except ValidationError as e:
                bad = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
                raise ValueError(f"models.{name}.training: {bad}") from None
        if self.ensemble.weighting != "fixed" and set(self.ensemble.weights) != set(self.models):
            equal = {name: 1.0 / len(self.models) for name in self.models}  # until the OOF
            self.ensemble = self.ensemble.model_copy(update={"weights": equal, "average": 0.0})
        if list(self.ensemble.weights) != list(self.models):
            raise ValueError(
                f"ensemble.weights names {list(self.ensemble.weights)}; models are "
                f"{list(self.models)} (one weight per member, same order)"
            )
        if self.ensemble.horizon not in self.features.horizons:
            raise ValueError(
                f"ensemble.horizon {self.ensemble.horizon} is not a label horizon "
                f"{list(self.features.horizons)}"
            )
        return self

    def member_kind(self, name: str) -> str:
        return self.models[name].kind or name


DEMO_CONFIG = Path(__file__).parent / "configs" / "demo.yaml"
QUICK = {  # a smoke-run budget (`demo --quick`, the example notebooks in CI): numbers mean nothing
    "training.epochs": 1,
    "training.max_samples_per_epoch": 256,
    "training.max_eval_samples": 256,
    "embedding.local_steps": 20,
}


def demo_config(overrides: dict | None = None, *, quick: bool = False) -> ExperimentConfig:
    """The demo's experiment (bundled sample, small members), optionally at the QUICK budget."""
    return load_config(DEMO_CONFIG, {**(QUICK if quick else {}), **(overrides or {})})


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
