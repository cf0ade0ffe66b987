"""The project's version, recorded with every run."""

from importlib.metadata import PackageNotFoundError, version

PACKAGE_NAME = "logit-lens-catalog"


def project_version() -> str:
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return "0+unknown (not installed; run `make install`)"
