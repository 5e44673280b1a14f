"""The ledger: every signal issued, one row per (as-of bar, symbol, horizon, bundle id), in a
real database through SQLAlchemy (SQLite by default; any SQLAlchemy URL). Appending is
idempotent (a signal already issued is kept, never rewritten) and all-or-nothing (one
transaction); the only later write is a signal's outcome, filled once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from tradeformer.errors import InputError

METADATA = sa.MetaData()
SIGNALS = sa.Table(
    "signals",
    METADATA,
    sa.Column("as_of", sa.String(32), nullable=False),  # the bar predicted from (ISO time)
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("horizon", sa.Integer, nullable=False),
    sa.Column("bundle_id", sa.String(64), nullable=False),  # the bundle's weights hash
    sa.Column("action", sa.String(8), nullable=False),  # BUY / SELL / HOLD
    sa.Column("score", sa.Double, nullable=False),  # the ensemble's score at this horizon
    sa.Column("score_kind", sa.String(16), nullable=False),  # return | cs_rank
    sa.Column("expected_return", sa.Double),  # the score when it is a return forecast
    sa.Column("confidence", sa.Double, nullable=False),
    sa.Column("veto_prob", sa.Double, nullable=False),  # the veto's, at the bundle's horizon
    sa.Column("decision_horizon", sa.Integer, nullable=False),
    sa.Column("data_fingerprint", sa.String(64), nullable=False),  # of the bars used
    sa.Column("bundle_path", sa.Text, nullable=False),
    sa.Column("issued_at", sa.String(32), nullable=False),
    sa.Column("close", sa.Double, nullable=False),  # the as-of bar's close
    sa.Column("realized_return", sa.Double),  # filled by `ledger score` once h bars passed
    sa.Column("realized_at", sa.String(32)),  # the bar the horizon ended on
    sa.PrimaryKeyConstraint("as_of", "symbol", "horizon", "bundle_id"),
)
KEY = ("as_of", "symbol", "horizon", "bundle_id")
SIGNAL_COLUMNS = [c.name for c in SIGNALS.columns if not c.name.startswith("realized")]


def ledger_url(where: str | Path) -> str:
    """A SQLAlchemy URL as given, or a path: a SQLite file (`.duckdb`: DuckDB through
    `duckdb_engine`)."""
    text = str(where)
    if "://" in text:
        return text
    path = Path(text).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"{'duckdb' if path.suffix == '.duckdb' else 'sqlite'}:///{path}"


class Ledger:
    def __init__(self, where: str | Path):
        self.url = ledger_url(where)
        try:
            self.engine = sa.create_engine(self.url)
            METADATA.create_all(self.engine)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as e:
            raise InputError(f"ledger {where}: {e}") from None

    def append(self, rows: pd.DataFrame) -> tuple[int, int]:
        """Insert signals not yet in the ledger, in one transaction; returns (inserted,
        already there). Rows already there are not compared or touched."""
        missing = [c for c in SIGNAL_COLUMNS if c not in rows.columns]
        if missing:
            raise ValueError(f"signal rows lack {missing}")
        records = rows[SIGNAL_COLUMNS].astype(object).where(rows[SIGNAL_COLUMNS].notna(), None)
        records = records.to_dict("records")
        with self.engine.begin() as conn:
            have = self._existing_keys(conn, rows)
            new = [r for r in records if tuple(r[k] for k in KEY) not in have]
            if new:
                conn.execute(SIGNALS.insert(), new)
        return len(new), len(records) - len(new)

    def _existing_keys(self, conn, rows: pd.DataFrame) -> set[tuple]:
        dates = sorted(set(rows["as_of"]))
        q = sa.select(*(SIGNALS.c[k] for k in KEY)).where(SIGNALS.c.as_of.in_(dates))
        return {tuple(r) for r in conn.execute(q)}

    def read(self, *, pending: bool = False) -> pd.DataFrame:
        """Every signal (or those without an outcome yet), ordered by key."""
        q = sa.select(SIGNALS).order_by(*(SIGNALS.c[k] for k in KEY))
        if pending:
            q = q.where(SIGNALS.c.realized_return.is_(None))
        with self.engine.connect() as conn:
            return pd.read_sql(q, conn)

    def fill_outcomes(self, outcomes: pd.DataFrame) -> int:
        """Set realized_return / realized_at of signals that have none yet (one
        transaction); a filled outcome is never changed. Returns the rows filled."""
        if outcomes.empty:
            return 0
        stmt = (
            SIGNALS.update()
            .where(*(SIGNALS.c[k] == sa.bindparam(f"k_{k}") for k in KEY))
            .where(SIGNALS.c.realized_return.is_(None))
            .values(realized_return=sa.bindparam("r"), realized_at=sa.bindparam("at"))
        )
        params = [
            {
                **{f"k_{k}": row[k] for k in KEY},
                "r": float(row["realized_return"]),
                "at": str(row["realized_at"]),
            }
            for row in outcomes.to_dict("records")
        ]
        with self.engine.begin() as conn:
            result = conn.execute(stmt, params)
        return int(result.rowcount)
