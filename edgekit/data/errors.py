"""The one exception the data layer raises for missing or malformed data."""


class DataError(Exception):
    """Data directory, database or record missing or not in the expected format."""

    exit_code = 2  # a usage/setup error for edgekit.cli.main_guard
