"""The project's version, recorded with every run."""

import platform
from importlib.metadata import PackageNotFoundError, version

PACKAGE_NAME = "logit-lens-catalog"


def project_version() -> str:
    try:
        return version(PACKAGE_NAME)
    except PackageNotFoundError:
        return "0+unknown (not installed; run `make install`)"


# The libraries whose versions can change a stored number (or how it was read and written).
RECORDED_LIBRARIES = (
    "torch",
    "transformer-lens",
    "sae-lens",
    "transformers",
    "numpy",
    "scipy",
    "duckdb",
    "safetensors",
    "nltk",
)


def library_versions() -> dict[str, str]:
    """Python and the versions of the libraries that computed a run, for the `runs` table."""
    found = {"python": platform.python_version()}
    for name in RECORDED_LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
