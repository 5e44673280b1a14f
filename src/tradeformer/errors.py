"""The errors tradeformer raises on purpose: a user's input, config, data or artefact is not
usable, and the message says why. The CLI maps them to exit codes (`cli.errors`), the HTTP
API to statuses (`api.app`), each in one place; anything else is a bug and crashes with its
traceback. Each class keeps the builtin base it had before (ValueError / RuntimeError) so
callers that caught those still do."""

from __future__ import annotations


class TradeformerError(Exception):
    """Base of every deliberate error; `exit_code` / `http_status`: how the CLI / API report it."""

    exit_code = 1
    http_status = 500


class InputError(TradeformerError, ValueError):
    """An argument or request that cannot be used as given (bad symbol, too few bars, ...)."""

    exit_code = 2
    http_status = 422


class ConfigError(InputError):
    """A config file or override that does not validate; the message lists each problem."""


class DataError(InputError):
    """Bars that cannot be used: missing, malformed, or failing validation."""

    exit_code = 3


class NotFoundError(InputError):
    """A named thing (symbol, file, run) that does not exist."""

    exit_code = 4
    http_status = 404


class BundleError(TradeformerError, RuntimeError):
    """A bundle that cannot be used with this installation (the message says why)."""

    exit_code = 5
    http_status = 503


class StageError(TradeformerError, RuntimeError):
    """A pipeline stage run before what it reads exists (the message names the stage)."""

    exit_code = 6


class SourceError(TradeformerError, RuntimeError):
    """A remote data source that failed (unreachable, empty range, unknown symbol)."""

    exit_code = 7
    http_status = 502
