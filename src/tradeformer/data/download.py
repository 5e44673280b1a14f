"""Yahoo Finance downloader (optional extra `yahoo`): the spec's "download OHLCV for 100 stocks".

Each symbol is fetched with `yfinance`, normalised by the same code as files on disk, validated,
and only then written. Any failed symbol fails the whole download unless `allow_missing`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable

import pandas as pd
from rich.progress import track

from tradeformer.data.loading import LoadedBars, finalize_bars, normalize_table
from tradeformer.data.validation import Issue, Policy, Rule, ValidationReport
from tradeformer.errors import InputError, SourceError

HistoryClient = Callable[[str, str | None, str | None, str], pd.DataFrame]

YAHOO_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo")


def yahoo_history(symbol: str, start: str | None, end: str | None, interval: str) -> pd.DataFrame:
    """One symbol's bars from Yahoo Finance as yfinance returns them (unadjusted + Adj Close)."""
    try:
        import yfinance as yf
    except ImportError as e:  # pragma: no cover - depends on the extra
        raise SourceError(
            "the Yahoo downloader needs yfinance: pip install 'tradeformer[yahoo]'"
        ) from e
    period = None if start else "max"
    return yf.Ticker(symbol).history(
        start=start,
        end=end,
        period=period,
        interval=interval,
        auto_adjust=False,
        actions=False,
        raise_errors=True,
    )


YAHOO_HOST = ("query2.finance.yahoo.com", 443)


class DownloadError(SourceError):
    """One or more symbols could not be downloaded."""


def unreachable_reason(host: str, port: int, timeout_s: float = 5.0) -> str | None:
    """Why `host:port` cannot be reached (DNS, timeout, refused, other), or None if it can."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except socket.gaierror as e:
        return f"DNS lookup of {host} failed ({e.strerror or e})"
    except TimeoutError:
        return f"connection to {host}:{port} timed out after {timeout_s:g} s"
    except ConnectionRefusedError:
        return f"connection to {host}:{port} refused"
    except OSError as e:
        return f"cannot connect to {host}:{port} ({e.strerror or e})"


def failure_cause(
    sym: str,
    error: Exception,
    *,
    start: str | None,
    end: str | None,
    interval: str,
    client: HistoryClient,
    probe: tuple[str, int] | None,
) -> str:
    """One line naming why `sym` failed: the source unreachable, an empty date range, or an
    unknown/delisted symbol (yfinance reports all three as 'possibly delisted')."""
    reason = unreachable_reason(*probe) if probe else None
    if reason:
        return f"source unreachable: {reason}; check the network or proxy"
    if start or end:
        try:
            whole = client(sym, None, None, interval)
        except Exception:  # any failure here means the symbol has no data
            whole = None
        if whole is not None and len(whole):
            span = ""
            if isinstance(whole.index, pd.DatetimeIndex):
                span = f" from {whole.index.min():%Y-%m-%d} to {whole.index.max():%Y-%m-%d}"
            return (
                f"no {interval} bars between {start or 'the start'} and {end or 'today'} "
                f"(empty date range); the symbol has bars{span}"
            )
    return f"unknown or delisted symbol (the source returned no bars: {error})"


def download_bars(
    symbols: Iterable[str],
    *,
    start: str | None = None,
    end: str | None = None,
    interval: str = "1d",
    client: HistoryClient = yahoo_history,
    retries: int = 3,
    backoff_s: float = 2.0,
    policy: Policy = "reject",
    min_bars: int = 120,
    adjust: bool = False,
    allow_missing: bool = False,
    progress: bool = True,
    probe: tuple[str, int] | None = YAHOO_HOST,
) -> LoadedBars:
    """Download, normalise and validate bars; raises DownloadError / DataValidationError.

    A symbol that fails every retry is diagnosed by `failure_cause` (a TCP probe of `probe`,
    then the symbol's whole history when a date range was asked for)."""
    if interval not in YAHOO_INTERVALS:
        raise InputError(f"interval {interval!r} not one of {', '.join(YAHOO_INTERVALS)}")
    syms = [s.strip().upper() for s in symbols if s.strip()]
    if not syms:
        raise InputError("no symbols given")
    frames: dict[str, pd.DataFrame] = {}
    parse: dict[str, list[Issue]] = {}
    sources: dict[str, str] = {}
    failures: dict[str, str] = {}
    it = track(syms, description="downloading", transient=True) if progress else syms
    for sym in it:
        last: Exception | None = None
        for attempt in range(retries):
            try:
                raw = client(sym, start, end, interval)
                if raw is None or len(raw) == 0:
                    raise DownloadError(f"{sym}: no data returned")
                break
            except Exception as e:  # network, rate limit, unknown symbol
                last = e
                if attempt + 1 < retries:
                    time.sleep(backoff_s * 2**attempt)
        else:
            failures[sym] = failure_cause(
                sym, last, start=start, end=end, interval=interval, client=client, probe=probe
            )
            continue
        raw = raw.reset_index() if not isinstance(raw.index, pd.RangeIndex) else raw
        src = f"yahoo:{sym}:{interval}"
        frames[sym], parse[sym] = normalize_table(raw, symbol=sym, source=src)
        sources[sym] = src
    if failures and not allow_missing:
        lines = "\n".join(f"  - {s}: {msg}" for s, msg in failures.items())
        raise DownloadError(f"{len(failures)} symbol(s) failed, nothing written:\n{lines}")
    report = ValidationReport()
    for s, msg in failures.items():
        report.issues.append(Issue(s, Rule.DOWNLOAD_FAILED, f"download failed, skipped: {msg}"))
    if not frames:
        raise DownloadError("no symbol could be downloaded")
    return finalize_bars(
        frames, sources, parse, report, policy=policy, min_bars=min_bars, adjust=adjust
    )
