"""The one exception the data layer raises for missing or malformed data."""


class DataError(Exception):
    """Data directory, database or record missing or not in the expected format."""
