"""The ledger on SQLite and DuckDB (through SQLAlchemy): appending is idempotent, missing
values are NULLs, an outcome is filled once and never changed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeformer.errors import InputError
from tradeformer.live.ledger import SIGNAL_COLUMNS, Ledger, ledger_url


def _rows(n: int, as_of: str = "2023-01-31T00:00:00") -> pd.DataFrame:
    rows = pd.DataFrame({c: ["x"] * n for c in SIGNAL_COLUMNS})
    rows["as_of"] = as_of
    rows["symbol"] = [f"S{i}" for i in range(n)]
    for c in ("horizon", "decision_horizon"):
        rows[c] = 3
    for c in ("score", "expected_return", "confidence", "veto_prob", "close"):
        rows[c] = np.linspace(-1, 1, n)
    rows.loc[0, "expected_return"] = np.nan  # a cs_rank score has no expected return
    return rows


@pytest.fixture(params=["sqlite", "duckdb"])
def ledger(request, tmp_path):
    if request.param == "duckdb":
        pytest.importorskip("duckdb_engine")
    ledger = Ledger(tmp_path / f"ledger.{'duckdb' if request.param == 'duckdb' else 'db'}")
    yield ledger
    # closed: an open DuckDB database keeps threads that a later fork() (the process pool
    # of the data stage) must not inherit (measured: the forked workers segfault)
    ledger.engine.dispose()


def test_append_is_idempotent_and_outcomes_are_filled_once(ledger):
    assert ledger.append(_rows(5)) == (5, 0)
    assert ledger.append(_rows(7)) == (2, 5)  # only the two new keys are written
    assert ledger.append(_rows(7, "2023-02-28T00:00:00")) == (7, 0)
    rows = ledger.read()
    assert len(rows) == 14 and rows["expected_return"].isna().sum() == 2
    due = rows.iloc[:3][["as_of", "symbol", "horizon", "bundle_id"]]
    assert ledger.fill_outcomes(due.assign(realized_return=0.01, realized_at="2023-02-03")) == 3
    assert ledger.fill_outcomes(due.assign(realized_return=0.99, realized_at="2023-02-03")) == 0
    after = ledger.read()
    assert after["realized_return"].notna().sum() == 3
    assert set(after["realized_return"].dropna()) == {0.01}
    assert len(ledger.read(pending=True)) == 11


def test_ledger_locations(tmp_path):
    assert ledger_url(tmp_path / "a.db") == f"sqlite:///{(tmp_path / 'a.db').resolve()}"
    assert ledger_url("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(InputError, match="ledger"):
        Ledger("nosuchdialect://x/y")
