"""Errors the catalog raises for bad input: each names the input, what is wrong, and the fix."""


class CatalogError(Exception):
    """A problem with a catalog file or a request to it that the user can fix."""


class CatalogBusyError(CatalogError):
    """Another process holds the catalog's write lock and it did not free up in time."""
