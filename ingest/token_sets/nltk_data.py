"""Finding the NLTK data the part-of-speech and name families need, or fetching it.

NLTK looks in ``$NLTK_DATA`` and its default folders (``~/nltk_data``, ``/usr/share/nltk_data``,
…). Missing packages are downloaded quietly once; on a machine without network the families that
need them are skipped, and the caller reports one warning saying how to install them.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterable, Sequence

import nltk

# NLTK package id -> the resource path nltk.data.find looks up (it also finds the .zip form).
RESOURCES: dict[str, str] = {
    "averaged_perceptron_tagger_eng": "taggers/averaged_perceptron_tagger_eng",
    "universal_tagset": "taggers/universal_tagset",
    "names": "corpora/names",
}

# Which packages each NLTK-backed family needs.
FAMILY_PACKAGES: dict[str, tuple[str, ...]] = {
    "nltk_pos": ("averaged_perceptron_tagger_eng",),
    "universal_pos": ("averaged_perceptron_tagger_eng", "universal_tagset"),
    "names": ("names",),
}

# A download that cannot reach the server should fail fast, not hang the ingest run.
DOWNLOAD_TIMEOUT_S = 10.0


def is_installed(package: str) -> bool:
    """Whether nltk can find the package in its data path."""
    try:
        nltk.data.find(RESOURCES[package])
    except LookupError:
        return False
    return True


def try_download(package: str) -> bool:
    """Download one package quietly; true when it is installed afterwards."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        # nltk prints download errors even when quiet; keep them off the user's terminal.
        nltk.download(package, quiet=True, print_error_to=io.StringIO())
    except Exception:  # any failure (network, permissions, bad index) just means "not available"
        return False
    finally:
        socket.setdefaulttimeout(previous)
    return is_installed(package)


def ensure_packages(packages: Iterable[str]) -> list[str]:
    """Make each package available (finding it, else downloading it); return those still missing."""
    unique = dict.fromkeys(packages)  # ordered, without repeats
    return [package for package in unique if not (is_installed(package) or try_download(package))]


def unavailable_families(families: Sequence[str]) -> tuple[list[str], str | None]:
    """Which of ``families`` cannot be built for lack of NLTK data, and the one warning to report.

    Families that need no NLTK data are never listed. The warning is ``None`` when nothing is missing.
    """
    needed = [family for family in families if family in FAMILY_PACKAGES]
    missing = ensure_packages(package for family in needed for package in FAMILY_PACKAGES[family])
    skipped = [family for family in needed if set(FAMILY_PACKAGES[family]) & set(missing)]
    if not skipped:
        return [], None
    warning = (
        f"NLTK data {missing} not found and could not be downloaded, so the token set families "
        f"{skipped} were skipped. To get them, run `python -m nltk.downloader {' '.join(missing)}` "
        "on a machine with network, or set NLTK_DATA to a folder that holds them, and rebuild."
    )
    return skipped, warning


def main() -> int:
    """Setup step (`make install`): make the NLTK data available, downloading into $NLTK_DATA if needed.

    Never fails the setup: without network the POS and names families are skipped later, with a warning.
    """
    import os
    from pathlib import Path

    target = os.environ.get("NLTK_DATA", "").split(os.pathsep)[0]
    missing = [package for package in RESOURCES if not is_installed(package)]
    if missing and target:
        Path(target).mkdir(parents=True, exist_ok=True)
        if target not in nltk.data.path:
            nltk.data.path.insert(0, target)
    for package in missing:
        try:
            nltk.download(package, download_dir=target or None, quiet=True, print_error_to=io.StringIO())
        except Exception:  # reported below as still missing
            pass
    still_missing = [package for package in RESOURCES if not is_installed(package)]
    if still_missing:
        print(f"NLTK data {still_missing} unavailable (no network?): the part-of-speech and names token sets will be "
              "skipped. Set NLTK_DATA to a folder holding them, or run `python -m nltk.downloader "
              f"{' '.join(still_missing)}` where there is network.")
    else:
        print(f"NLTK data ready ({', '.join(RESOURCES)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
