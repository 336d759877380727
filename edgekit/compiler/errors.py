"""Errors the compiler raises; each message says what is wrong and what to do about it."""
from __future__ import annotations


class CompilerError(Exception):
    """Base class: the model cannot be compiled for the target as asked."""

    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard


class AccumulatorOverflowError(CompilerError):
    """A layer's int32 accumulator could overflow for some int8 input."""


class ToolchainMissingError(CompilerError):
    """The target's cross compiler (or its C library) is not installed."""


class ModelTooLargeError(CompilerError):
    """The compiled model does not fit the target's flash or RAM."""


class BuildError(CompilerError):
    """The C compiler rejected the generated code (a compiler bug: please report it)."""

    exit_code = 3  # a build failure for edgekit.cli.main_guard
