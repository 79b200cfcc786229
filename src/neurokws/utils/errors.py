"""Exception types whose messages name the offending file and the fix."""

from __future__ import annotations


class NeurokwsError(Exception):
    """Base class for errors raised on bad user input (files, configs, weights)."""


class DataFormatError(NeurokwsError):
    """A data file is missing, malformed, truncated or holds impossible values."""


class ConfigError(NeurokwsError):
    """A configuration value is unknown, of the wrong type or impossible."""


class ModelFormatError(NeurokwsError):
    """A weight/checkpoint file does not match the expected model or holds NaN/inf."""
