"""Errors for bad input to the ingest job. Each message names the input, what is wrong, and the fix."""


class IngestInputError(ValueError):
    """An input (folder, file, option, release) that the ingest job cannot use as given."""
