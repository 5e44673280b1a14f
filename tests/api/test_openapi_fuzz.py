"""Schemathesis against a real `tradeformer serve` process on loopback, every endpoint, all
checks on: no 5xx, every status and body documented, schema-valid requests accepted (the bar
endpoints' documented 422 aside, see schemathesis.toml), schema-violating ones rejected.

`TRADEFORMER_FUZZ_EXAMPLES` sets the examples per operation (CI: 15; the release check: 300,
about 1,100 requests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tradeformer.api.launch import running_server

HERE = Path(__file__).parent
ST = Path(sys.executable).with_name("st")


@pytest.mark.parametrize("api_key", [None, "k-fuzz-1"])
def test_openapi_contract_holds_under_fuzzing(served, api_key, tmp_path):
    if not ST.exists():
        pytest.fail("schemathesis is a dev dependency: pip install -e '.[dev]'")
    summary, store, _ = served
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    headers = []
    if api_key:
        env["TRADEFORMER_API_KEY"] = api_key
        headers = ["-H", f"X-API-Key: {api_key}"]
    n = os.environ.get("TRADEFORMER_FUZZ_EXAMPLES", "15")
    with running_server(summary["bundle"], store, env=env) as url:
        cmd = [str(ST), "--config-file", str(HERE / "schemathesis.toml"), "run"]
        cmd += [f"{url}/openapi.json", "--checks", "all", "-n", n, "--seed", "7", "--no-color"]
        res = subprocess.run(
            [*cmd, *headers], capture_output=True, text=True, timeout=900, cwd=tmp_path
        )
    tail = res.stdout[-3000:]
    print(next((ln for ln in tail.splitlines() if re.search(r"\d+ generated", ln)), tail[-300:]))
    assert res.returncode == 0, tail
    assert " passed" in tail and "failures" not in tail.lower().split("test cases:")[-1], tail
