"""What every stage is handed: the config, the run directory, and the data (opened once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tradeformer.config import ExperimentConfig
from tradeformer.dataset.prepare import LabelHook, PreparedData, open_prepared


@dataclass
class RunContext:
    cfg: ExperimentConfig
    run_dir: Path
    progress: bool = True
    label_hook: LabelHook | None = None
    options: dict = field(default_factory=dict)  # stage options (evaluate: ablations, costs)
    results: dict = field(default_factory=dict)  # what a stage returns (evaluation, report)
    _data: PreparedData | None = None

    @property
    def data(self) -> PreparedData:
        """The prepared data: from the `data` stage of this process, or reopened from the
        run's `data.json` when a later stage runs alone."""
        if self._data is None:
            self._data = open_prepared(self.run_dir, self.cfg, self.label_hook)
        return self._data

    @data.setter
    def data(self, value: PreparedData) -> None:
        self._data = value

    @property
    def horizon_index(self) -> int:
        return self.data.horizons.index(self.cfg.ensemble.horizon)
