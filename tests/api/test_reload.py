"""A server on a bundle registry picks up a promoted bundle without a restart: under a
bounded load on loopback, a promotion (and a rollback) fails no request, every answer names
one version, and each answer's numbers are that version's own."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.conftest import tiny_config
from tradeformer.api.launch import running_server
from tradeformer.inference import Predictor
from tradeformer.live import registry as reg
from tradeformer.stages.pipeline import run_training


@pytest.fixture(scope="module")
def two_versions(served, tiny_source, tmp_path_factory):
    summary, store, _ = served
    tmp = tmp_path_factory.mktemp("second")
    other = run_training(tiny_config(tiny_source, tmp, seed=99), progress=False)
    root = tmp / "registry"
    a = reg.publish(summary["bundle"], root)
    b = reg.publish(other["bundle"], root)
    reg.promote(root, a, "first")
    expected = {}
    for v in (a, b):
        out = Predictor.load(root / "versions" / v).predict_store(store, ["AAPL", "XOM"])
        expected[v] = out.set_index("symbol")["expected_return"].to_dict()
    assert expected[a] != expected[b]
    return root, store, a, b, expected


def test_registry_publish_promote_rollback(two_versions):
    root, _, a, b, _ = two_versions
    assert reg.versions(root) == sorted([a, b])
    assert reg.publish(root / "versions" / a, root) == a  # same weights: not copied again
    assert reg.current_version(root) == a and reg.resolve_bundle(root) == root / "versions" / a
    assert not list((root / "versions").glob(".*"))  # no partial copy left behind


def _load(url: str, stop: threading.Event, answers: list, failures: list) -> None:
    with httpx.Client(base_url=url, timeout=30) as c:
        while not stop.is_set():
            for path in ("/v1/predict/AAPL", "/v1/predict/XOM"):
                r = c.get(path)
                if r.status_code == 200:
                    answers.append(r.json())
                else:
                    failures.append((r.status_code, r.text[:200]))


def test_promotion_under_load_fails_no_request_and_never_mixes(two_versions):
    root, store, a, b, expected = two_versions
    extra = ("--reload-s", "0.2")
    with running_server(root, store, extra=extra, max_batch=4) as url:
        assert httpx.get(f"{url}/v1/model").json()["bundle_version"] == a
        stop, answers, failures = threading.Event(), [], []
        clients = [
            threading.Thread(target=_load, args=(url, stop, answers, failures)) for _ in range(4)
        ]
        for t in clients:
            t.start()
        time.sleep(2)
        reg.promote(root, b, "test")
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v1/model").json()["bundle_version"] != b:
            assert time.monotonic() < deadline, "the promoted bundle was never served"
            time.sleep(0.1)
        n_switch = len(answers)
        time.sleep(2)
        assert reg.rollback(root) == a
        while httpx.get(f"{url}/v1/model").json()["bundle_version"] != a:
            assert time.monotonic() < deadline, "the rollback was never served"
            time.sleep(0.1)
        time.sleep(1)
        stop.set()
        for t in clients:
            t.join()
    assert not failures, failures[:5]
    versions = [x["bundle_version"] for x in answers]
    print(f"{len(answers)} answers: {versions.count(a)} from {a}, {versions.count(b)} from {b}")
    assert set(versions) == {a, b} and len(answers) > n_switch > 0
    for x in answers:  # each answer is wholly its version's
        assert x["expected_return"] == pytest.approx(expected[x["bundle_version"]][x["symbol"]])


def test_an_unloadable_champion_is_refused_and_the_served_one_stays(two_versions, tmp_path):
    from tradeformer.api.app import BundleWatcher, Loaded, Service

    root, _, a, _, _ = two_versions
    broken = root / "versions" / "29990101-000000-broken"
    broken.mkdir(exist_ok=True)
    (broken / "manifest.json").write_text("{}")
    svc = Service(Loaded(Predictor.load(root / "versions" / a), a), None, threading.Lock())
    watcher = BundleWatcher.__new__(BundleWatcher)  # checked by hand, no thread
    watcher.svc, watcher.root, watcher.refused, watcher.reloads = svc, root, set(), 0
    reg.promote(root, broken.name, "broken")
    try:
        assert watcher.check() is False and svc.loaded.version == a
        assert watcher.check() is False  # refused once, not retried on every poll
    finally:
        reg.promote(root, a, "restore")
