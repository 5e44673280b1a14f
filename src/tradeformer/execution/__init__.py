"""Where per-symbol stages run: a local process pool (default) or a Dask cluster."""

from tradeformer.execution.engines import (
    DaskEngine,
    Engine,
    ProcessEngine,
    engine_scope,
    make_engine,
)

__all__ = ["DaskEngine", "Engine", "ProcessEngine", "engine_scope", "make_engine"]
