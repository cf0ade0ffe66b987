"""Finding the NLTK data the part-of-speech and name families need, and installing it at setup.

NLTK looks in ``$NLTK_DATA`` and its default folders, one of which is ``sys.prefix/nltk_data``:
the interpreter's own folder (the virtualenv's, for ``.venv/bin/python``). Setup
(``python -m ingest.token_sets.nltk_data [--copy-from DIR]``) installs the data there, so every
later ``python -m ingest ...`` of that interpreter finds it with no variable set. At build time a
missing package is downloaded quietly once; without network the families that need it are
skipped, and the caller reports one warning saying how to install them.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import shutil
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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

# A download that cannot reach the server should fail fast, not hang the ingest run or the setup.
DOWNLOAD_TIMEOUT_S = 10.0


def setup_command() -> str:
    """The command that installs the data for the Python running now (written so it works as given)."""
    return f"{shlex.quote(sys.executable)} -m ingest.token_sets.nltk_data"


def families_needing(packages: Iterable[str]) -> list[str]:
    """The NLTK-backed families that cannot be built without any of ``packages``."""
    missing = set(packages)
    return [family for family, needs in FAMILY_PACKAGES.items() if missing & set(needs)]


def is_installed(package: str, paths: Sequence[str] | None = None) -> bool:
    """Whether nltk can find the package in ``paths`` (default: its data path)."""
    try:
        nltk.data.find(RESOURCES[package], paths=list(paths) if paths is not None else None)
    except LookupError:
        return False
    return True


def _download(package: str, download_dir: Path | None = None) -> bool:
    """Download one package quietly (into ``download_dir``, else NLTK's default); true if it worked."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        # nltk prints download errors even when quiet; keep them off the user's terminal.
        return bool(
            nltk.download(
                package,
                download_dir=str(download_dir) if download_dir else None,
                quiet=True,
                print_error_to=io.StringIO(),
            )
        )
    except Exception:  # any failure (network, permissions, bad index) just means "not available"
        return False
    finally:
        socket.setdefaulttimeout(previous)


def try_download(package: str) -> bool:
    """Download one package quietly; true when it is installed afterwards."""
    return _download(package) and is_installed(package)


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
        f"{skipped} were skipped. To get them, run `{setup_command()} --copy-from DIR` (DIR: a folder "
        "holding the NLTK data) or the same command without --copy-from where there is network, or set "
        "NLTK_DATA to a folder that holds them; then rebuild."
    )
    return skipped, warning


# --- setup: install the data into the interpreter's own folder ---------------------------------


def interpreter_data_dir() -> Path:
    """``sys.prefix/nltk_data``: on NLTK's default search path for this interpreter (checked by a test)."""
    return Path(sys.prefix) / "nltk_data"


@dataclass
class InstallResult:
    target: Path
    origin: dict[str, str] = field(default_factory=dict)  # package -> "already there" / "copied from X" / "downloaded"
    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one line setup prints."""
        if not self.missing:
            origins = "; ".join(f"{package} {origin}" for package, origin in self.origin.items())
            return f"NLTK data ready in {self.target} ({origins})"
        return (
            f"NLTK data {self.missing} could not be installed into {self.target} (not in the given folders and no "
            f"network?): the token set families {families_needing(self.missing)} will be missing from catalogs built "
            f"with this Python. To fix, run `{setup_command()} --copy-from DIR` with DIR a folder holding the NLTK "
            "data, or the same command without --copy-from where there is network."
        )


def _stored_forms(root: Path, package: str) -> list[Path]:
    """The package's folder and/or zip under ``root`` (NLTK reads either)."""
    base = root / RESOURCES[package]
    return [path for path in (base, base.with_name(base.name + ".zip")) if path.exists()]


def _copy_package(source: Path, package: str, target: Path) -> bool:
    """Copy the package's files from the data folder ``source`` into ``target``; true when found there after."""
    forms = _stored_forms(source, package)
    if not forms or not is_installed(package, [str(source)]):
        return False
    try:
        for path in forms:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(path, destination)
    except OSError:  # unreadable source or unwritable target: try the next source
        return False
    return is_installed(package, [str(target)])


def _env_data_dirs() -> list[Path]:
    return [Path(entry) for entry in os.environ.get("NLTK_DATA", "").split(os.pathsep) if entry]


def install_nltk_data(
    target: Path, copy_from: Path | None = None, env_dirs: Sequence[Path] | None = None, download: bool = True
) -> InstallResult:
    """Install every package of :data:`RESOURCES` into ``target``.

    Each package is taken from the first of: ``target`` itself (already installed), ``copy_from``,
    the folders of ``env_dirs`` (default: ``$NLTK_DATA``), a download (when ``download``). Never
    raises for a package it cannot get: those are listed in ``missing``.
    """
    sources = ([copy_from] if copy_from is not None else []) + list(_env_data_dirs() if env_dirs is None else env_dirs)
    result = InstallResult(target=target)
    for package in RESOURCES:
        if is_installed(package, [str(target)]):
            result.origin[package] = "already there"
            continue
        source = next((folder for folder in sources if _copy_package(folder, package, target)), None)
        if source is not None:
            result.origin[package] = f"copied from {source}"
        elif download and _download(package, target) and is_installed(package, [str(target)]):
            result.origin[package] = "downloaded"
        else:
            result.missing.append(package)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Setup step (`make install`): put the NLTK data where this interpreter's NLTK finds it by default.

    Never fails the setup: without the data the POS and names families are skipped later, with a warning.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ingest.token_sets.nltk_data",
        description="Install the NLTK data the part-of-speech and names token sets need.",
    )
    parser.add_argument(
        "--copy-from",
        type=Path,
        default=None,
        help="an NLTK data folder to copy the packages from (used when it holds them)",
    )
    parser.add_argument(
        "--target",
        type=Path,
        default=None,
        help="where to install (default: sys.prefix/nltk_data, which NLTK searches with no NLTK_DATA set)",
    )
    args = parser.parse_args(argv)
    target = args.target or interpreter_data_dir()
    print(install_nltk_data(target, args.copy_from).summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
