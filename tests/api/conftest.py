"""One tiny trained bundle and its store behind a TestClient, shared by the API tests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import tiny_config
from tradeformer.api.app import create_app
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="package")
def served(tiny_source, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    summary = run_training(tiny_config(tiny_source, tmp), progress=False)
    store = next((tmp / "cache" / "stores").iterdir())
    app = create_app(summary["bundle"], store)
    return summary, store, TestClient(app, raise_server_exceptions=False)
