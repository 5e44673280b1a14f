"""Several folders of bars as one store (`data.source: [a, b]`), under a data policy: the
real `daily_more/` quirks refuse the reject policy and are repaired, each repair recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tradeformer.data.sources import resolve_store
from tradeformer.data.validation import DataValidationError, Rule
from tradeformer.dataset.holdout import held_out, split_holdout


def _folder(src: Path, dst: Path, names: list[str], start: str = "2019-01-01") -> Path:
    """A few real files, cut to a recent span (a temporary copy, never in the repository)."""
    dst.mkdir(parents=True)
    for s in names:
        b = pd.read_parquet(src / f"{s}.parquet")
        b[b["timestamp"] >= start].to_parquet(dst / f"{s}.parquet", index=False)
    return dst


@pytest.fixture
def two_folders(shared_data, tmp_path):
    more = shared_data / "daily_more"
    a = _folder(shared_data / "daily", tmp_path / "a", ["AAPL", "XOM"])
    b = _folder(more, tmp_path / "b", ["HUBB", "AEP"])  # HUBB: low > open on 2021-05-05
    return a, b


@pytest.mark.real_data
def test_two_folders_under_the_repair_policy_are_one_store(two_folders, tmp_path):
    a, b = two_folders
    with pytest.raises(DataValidationError) as e:
        resolve_store([a, b], tmp_path / "cache", min_bars=100)
    assert {i.symbol for i in e.value.issues} == {"HUBB"}
    store = resolve_store([a, b], tmp_path / "cache", min_bars=100, policy="repair")
    assert store.symbols("1D") == ["AAPL", "AEP", "HUBB", "XOM"]
    repairs = store.manifest["meta"]["validation"]["repairs"]
    assert [(r["symbol"], r["rows"]) for r in repairs] == [("HUBB", 1)]
    assert "2021-05-05" in repairs[0]["examples"][0]
    assert store.manifest["meta"]["source"] == f"{a}, {b}"
    # cached under its own key: the same call finds it, the reject policy does not
    assert resolve_store([a, b], tmp_path / "cache", min_bars=100, policy="repair").root == (
        store.root
    )


@pytest.mark.real_data
def test_a_symbol_in_two_folders_is_refused(two_folders, tmp_path):
    a, b = two_folders
    shutil.copy(a / "AAPL.parquet", b / "AAPL.parquet")
    with pytest.raises(DataValidationError) as e:
        resolve_store([a, b], tmp_path / "cache", min_bars=100, policy="repair")
    assert [i.rule for i in e.value.issues] == [Rule.DUPLICATE_SYMBOL]


def test_a_store_is_not_combined_with_bars(tmp_path):
    from tradeformer.errors import DataError

    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "manifest.json").write_text("{}")
    (tmp_path / "bars").mkdir()
    with pytest.raises(DataError, match="a bar store"):
        resolve_store([tmp_path / "store", tmp_path / "bars"], tmp_path / "cache")


def test_holdout_is_a_stable_share_of_names_whatever_else_the_universe_holds():
    names = [f"S{i:03d}" for i in range(1000)]
    train, out = split_holdout(names, 0.33, seed=0)
    assert 0.29 < len(out) / len(names) < 0.37 and not set(train) & set(out)
    assert train + out != names and sorted(train + out) == names
    # a name's fate depends on itself and the seed only
    _, out_half = split_holdout(names[::2], 0.33, seed=0)
    assert out_half == [s for s in out if s in set(names[::2])]
    assert held_out("aapl", 0.33) == held_out("AAPL", 0.33)
    assert split_holdout(names, 0.33, seed=1)[1] != out
    assert split_holdout(names, 0.0)[1] == []
