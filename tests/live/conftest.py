"""One tiny cross-sectional bundle on six generated names (through 2014) and its store,
shared by the live tests (they copy it into registries and only read the store)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CROSS_SECTIONAL, iid_bars, tiny_config
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="package")
def cs_run(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    """(bundle, store, bars folder, tmp)."""
    tmp = tmp_path_factory.mktemp("live")
    source = iid_bars(tmp / "bars", n_symbols=6, seed=11, start="2008-01-02")
    summary = run_training(tiny_config(source, tmp, **CROSS_SECTIONAL), progress=False)
    store = Path(json.loads((Path(summary["run_dir"]) / "data.json").read_text())["store"])
    return Path(summary["bundle"]), store, source, tmp
