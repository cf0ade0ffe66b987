"""Setup installs the NLTK data where this interpreter's NLTK finds it with no NLTK_DATA set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nltk
import pytest

from ingest.token_sets import nltk_data
from ingest.token_sets.nltk_data import RESOURCES, install_nltk_data, interpreter_data_dir


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory) -> Path:
    """A fresh NLTK data folder holding the three packages, copied from wherever NLTK finds them now."""
    root = tmp_path_factory.mktemp("nltk-source")
    for resource in RESOURCES.values():
        pointer = nltk.data.find(resource)
        if isinstance(pointer, nltk.data.ZipFilePathPointer):
            zip_path = Path(pointer.zipfile.filename)
            (root / resource).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(zip_path, root / Path(resource).parent / zip_path.name)
        else:
            shutil.copytree(pointer.path, root / resource)
    return root


def clean_env(home: Path) -> dict[str, str]:
    """No NLTK_DATA and a HOME without nltk_data: only the interpreter's default folders are searched."""
    env = {key: value for key, value in os.environ.items() if key != "NLTK_DATA"}
    return env | {"HOME": str(home)}


def test_sys_prefix_nltk_data_is_on_nltks_default_path(tmp_path):
    script = "import os, sys, nltk; print(os.path.join(sys.prefix, 'nltk_data') in nltk.data.path, sys.prefix)"
    out = subprocess.run(
        [sys.executable, "-c", script], env=clean_env(tmp_path), capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", sys.prefix]
    assert interpreter_data_dir() == Path(sys.prefix) / "nltk_data"


def test_copied_data_is_found_by_a_fresh_interpreter_with_no_variable_set(source_dir, tmp_path):
    prefix = tmp_path / "prefix"
    result = install_nltk_data(prefix / "nltk_data", copy_from=source_dir, env_dirs=[], download=False)
    assert result.missing == []
    assert result.origin == {package: f"copied from {source_dir}" for package in RESOURCES}
    assert result.summary().startswith(f"NLTK data ready in {prefix / 'nltk_data'} (")
    # A fresh interpreter whose prefix is the temporary one: nltk computes its default path at import.
    script = (
        f"import sys; sys.prefix = {str(prefix)!r}\n"
        "import nltk\n"
        "from nltk.corpus import names\n"
        "from nltk.tag.mapping import map_tag\n"
        "from nltk.tag.perceptron import PerceptronTagger\n"
        "print(len(names.words('male.txt')), PerceptronTagger().tag(['walked'])[0][1], map_tag('en-ptb', "
        "'universal', 'VBD'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=clean_env(tmp_path), capture_output=True, text=True, check=True
    ).stdout.split()
    male_lines = [line for line in (source_dir / "corpora/names/male.txt").read_text().splitlines() if line.strip()]
    assert out == [str(len(male_lines)), "VBD", "VERB"]


def test_a_second_install_finds_the_data_already_there(source_dir, tmp_path):
    target = tmp_path / "nltk_data"
    install_nltk_data(target, copy_from=source_dir, env_dirs=[], download=False)
    again = install_nltk_data(target, copy_from=None, env_dirs=[], download=False)
    assert again.origin == {package: "already there" for package in RESOURCES} and again.missing == []


def test_nltk_data_variable_is_the_fallback_when_copy_from_lacks_the_data(source_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = install_nltk_data(
        tmp_path / "nltk_data", copy_from=empty, env_dirs=[tmp_path / "absent", source_dir], download=False
    )
    assert result.origin == {package: f"copied from {source_dir}" for package in RESOURCES}


def test_download_is_the_last_resort_into_the_target(tmp_path, source_dir, monkeypatch):
    calls = []

    def fake_download(package, download_dir=None, **kwargs):  # stands in for the network: copy from the source
        calls.append((package, download_dir))
        return nltk_data._copy_package(source_dir, package, Path(download_dir))

    monkeypatch.setattr(nltk, "download", fake_download)
    result = install_nltk_data(tmp_path / "nltk_data", copy_from=None, env_dirs=[])
    assert result.origin == {package: "downloaded" for package in RESOURCES}
    assert calls == [(package, str(tmp_path / "nltk_data")) for package in RESOURCES]


def test_without_data_or_network_setup_prints_one_line_and_succeeds(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(nltk, "download", lambda *args, **kwargs: False)
    monkeypatch.delenv("NLTK_DATA", raising=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert nltk_data.main(["--copy-from", str(empty), "--target", str(tmp_path / "nltk_data")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert "['averaged_perceptron_tagger_eng', 'universal_tagset', 'names'] could not be installed" in line
    assert "families ['nltk_pos', 'universal_pos', 'names'] will be missing" in line
    assert f"{sys.executable} -m ingest.token_sets.nltk_data --copy-from DIR" in line


def test_setup_command_line_copies_and_reports_one_line(source_dir, tmp_path):
    target = tmp_path / "nltk_data"
    out = subprocess.run(
        [sys.executable, "-m", "ingest.token_sets.nltk_data", "--copy-from", str(source_dir), "--target", str(target)],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert out.stdout.strip().splitlines() == [
        f"NLTK data ready in {target} (" + "; ".join(f"{p} copied from {source_dir}" for p in RESOURCES) + ")"
    ]
    assert out.stderr == ""  # no runpy warning: importing the package does not import the module it runs
    assert all(nltk_data.is_installed(package, [str(target)]) for package in RESOURCES)
