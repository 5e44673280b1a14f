"""Yahoo downloader without network: responses shaped exactly as yfinance returns them.

The frames are built from real bars (the bundled sample) and laid out like
`yf.Ticker(s).history(auto_adjust=False, actions=False)`: a tz-aware `Date` index (exchange
time zone, midnight) or `Datetime` index for intraday, and Open/High/Low/Close/Adj Close/Volume.
"""

from __future__ import annotations

import socket
import sys
import threading
import types

import pandas as pd
import pytest

from tradeformer.data import DataValidationError, load_sample
from tradeformer.data.download import DownloadError, download_bars, yahoo_history


def _as_yfinance(frame: pd.DataFrame) -> pd.DataFrame:
    idx = pd.DatetimeIndex(frame["timestamp"]).tz_localize("America/New_York")
    out = frame.drop(columns="timestamp").rename(
        columns={
            "open": "Open",
            "high": "High",
            "low": "Low",
            "close": "Close",
            "adj_close": "Adj Close",
            "volume": "Volume",
        }
    )
    out.index = idx.rename("Date")
    return out


@pytest.fixture(scope="module")
def recorded() -> dict[str, pd.DataFrame]:
    bars = load_sample().bars
    return {"^GSPC": _as_yfinance(bars["GSPC"]), "^IXIC": _as_yfinance(bars["IXIC"])}


def test_download_normalises_and_validates(recorded):
    calls = []

    def client(sym, start, end, interval):
        calls.append((sym, start, end, interval))
        return recorded[sym]

    loaded = download_bars(["^gspc", "^IXIC"], start="1999-01-01", client=client, progress=False)
    assert loaded.symbols == ["^GSPC", "^IXIC"]
    assert calls[0] == ("^GSPC", "1999-01-01", None, "1d")
    f = loaded.bars["^GSPC"]
    assert f["timestamp"].dtype == "datetime64[ns]"
    assert f["timestamp"].iloc[0] == pd.Timestamp("1999-01-04")
    assert "adj_close" in f.columns and loaded.timeframes["^GSPC"] == "1D"


def test_retries_then_succeeds(recorded):
    attempts = {"n": 0}

    def flaky(sym, start, end, interval):
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ConnectionError("Too Many Requests. Rate limited.")
        return recorded[sym]

    loaded = download_bars(["^GSPC"], client=flaky, backoff_s=0, progress=False)
    assert attempts["n"] == 3 and loaded.symbols == ["^GSPC"]


@pytest.fixture
def listening():
    """A local TCP server that accepts connections (a reachable source) and sends nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def refusing():
    """A local port nobody listens on: connections are refused."""
    s = socket.create_server(("127.0.0.1", 0))
    addr = s.getsockname()
    s.close()
    return addr


def _delisted(sym, start, end, interval):
    # what yfinance raises for an unknown symbol and, as well, when the network is down
    raise ValueError(f"{sym}: possibly delisted; no timezone found")


def test_failed_symbol_fails_everything_unless_allowed(recorded, listening):
    def client(sym, start, end, interval):
        if sym == "NOPE":
            raise ValueError("No data found, symbol may be delisted")
        return recorded[sym]

    kw = {"client": client, "backoff_s": 0, "progress": False, "probe": listening}
    with pytest.raises(DownloadError, match=r"NOPE: unknown or delisted symbol .*No data found"):
        download_bars(["^GSPC", "NOPE"], **kw)
    loaded = download_bars(["^GSPC", "NOPE"], allow_missing=True, **kw)
    assert loaded.symbols == ["^GSPC"]
    assert loaded.report.warnings[0].rule.value == "download_failed"


def test_unreachable_source_is_not_called_a_delisted_symbol(refusing):
    with pytest.raises(DownloadError) as e:
        download_bars(["AAPL"], client=_delisted, backoff_s=0, progress=False, probe=refusing)
    line = str(e.value).splitlines()[1]
    assert f"AAPL: source unreachable: connection to 127.0.0.1:{refusing[1]} refused" in line
    assert "delisted" not in line


def test_dns_failure_and_timeout_are_named(monkeypatch):
    with pytest.raises(DownloadError, match="AAPL: source unreachable: DNS lookup of no-such"):
        download_bars(
            ["AAPL"], client=_delisted, backoff_s=0, progress=False, probe=("no-such.invalid", 443)
        )

    def hang(*a, **k):
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    with pytest.raises(DownloadError, match="unreachable: connection to h:443 timed out"):
        download_bars(["AAPL"], client=_delisted, backoff_s=0, progress=False, probe=("h", 443))


def test_source_that_returns_nothing_is_an_unknown_symbol(listening):
    nothing = lambda *a: pd.DataFrame()  # noqa: E731
    with pytest.raises(DownloadError) as e:
        download_bars(["ZZZZ"], client=nothing, backoff_s=0, progress=False, probe=listening)
    assert "ZZZZ: unknown or delisted symbol (the source returned no bars" in str(e.value)


def test_empty_date_range_is_its_own_cause(recorded, listening):
    def client(sym, start, end, interval):
        return recorded["^GSPC"] if start is None else pd.DataFrame()

    with pytest.raises(DownloadError) as e:
        download_bars(
            ["^GSPC"], start="2030-01-01", client=client, backoff_s=0, progress=False,
            probe=listening,
        )  # fmt: skip
    line = str(e.value).splitlines()[1]
    assert "no 1d bars between 2030-01-01 and today (empty date range)" in line
    assert "bars from 1999-01-04 to 2018-12-31" in line


def test_bad_downloaded_bars_are_rejected(recorded):
    broken = recorded["^GSPC"].copy()
    broken.iloc[10, broken.columns.get_loc("High")] = 1.0

    with pytest.raises(DataValidationError, match="high_below_open_close"):
        download_bars(["^GSPC"], client=lambda *a: broken, progress=False)


def test_unknown_interval():
    with pytest.raises(ValueError, match="interval"):
        download_bars(["AAPL"], interval="7d", client=lambda *a: None, progress=False)


def test_yahoo_history_calls_yfinance_unadjusted(monkeypatch, recorded):
    seen = {}

    class FakeTicker:
        def __init__(self, symbol):
            seen["symbol"] = symbol

        def history(self, **kw):
            seen.update(kw)
            return recorded["^GSPC"]

    monkeypatch.setitem(sys.modules, "yfinance", types.SimpleNamespace(Ticker=FakeTicker))
    out = yahoo_history("^GSPC", None, None, "1d")
    assert seen["symbol"] == "^GSPC" and seen["period"] == "max"
    assert seen["auto_adjust"] is False and seen["actions"] is False
    assert len(out) == len(recorded["^GSPC"])
