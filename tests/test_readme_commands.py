"""The README's commands, run exactly as a user types them.

A test that starts a component its own way proves nothing about the command the README gives, so
here ``make demo`` itself runs in the background (on a free port, through the documented ``PORT``
variable), the browser opens what it serves, and every deep link the README prints is followed;
``make ingest SAE_DIRS=... MODEL=...`` ingests local folders; and every command block the README
marks ``readme-test`` runs line by line in a shell where the virtualenv is activated, on the demo
catalog built by following the fix that the first (failing) command suggests.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.app.test_readme_links import NO_DATA, readme_links
from tests.browser_support import browser_page, free_port, screenshot, settle, wait_until_serving
from tests.builders import new_cfg, old_cfg, random_decoder, write_sae_folder, write_tiny_gpt2

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
VENV_BIN = Path(sys.executable).parent
MARKER = "<!-- readme-test: runs on the demo catalog -->"
DEMO_SAE_LABELS = ["L0", "L1 resid_pre", "L1 resid_post"]  # demo/blocks.0.hook_resid_pre, ...


def marked_blocks(language: str) -> list[str]:
    """The fenced ``language`` blocks that follow the readme-test marker."""
    pattern = re.escape(MARKER) + r"\s*```" + language + r"\n(.*?)```"
    return re.findall(pattern, README, flags=re.DOTALL)


def user_env(**extra: str) -> dict[str, str]:
    """A shell as the README's user has it: the virtualenv activated, no test-only variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("LLCAT_DB", "NLTK_DATA", "PYTHONPATH", "MAKEFLAGS", "MAKELEVEL")
    }
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV_BIN.parent)
    return env | extra


def shell(line: str, cwd: Path, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=user_env(), capture_output=True, text=True, timeout=timeout_s
    )


def warning_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"\bwarn(ing)?\b", line, flags=re.IGNORECASE)]


def test_the_readme_marks_commands_to_run_and_lists_deep_links():
    assert "make demo" in README and "make test" in README
    assert len(marked_blocks("bash")) >= 2 and len(marked_blocks("python")) == 1
    assert len(readme_links()) >= 5


def test_make_demo_serves_the_browser_with_every_readme_deep_link(tmp_path):
    port, db, log = free_port(), tmp_path / "catalog.duckdb", tmp_path / "make-demo.log"
    base = f"http://localhost:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["make", "demo", f"PORT={port}", f"DB={db}"],
            cwd=ROOT,
            env=user_env(LLCAT_OFFLINE="1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_serving(base, server, log, timeout_s=600)
        # The demo build and the server (a first `make demo` also shows pip's own output before them).
        demo_output = log.read_text().split("llcat-ingest demo", 1)[-1]
        assert warning_lines(demo_output) == [], "a clean demo build prints no warnings"
        with browser_page() as page:
            page.goto(base)
            settle(page, "Logit-lens feature catalog", "Models", "SAEs", charts=2)
            screenshot(page, "readme-make-demo-overview")
            # The SAE table is drawn on a canvas; the demo's three SAEs show as the plots' axis labels.
            assert page.locator('[data-testid="stMetric"]', has_text="SAEs").inner_text().split()[-1] == "3"
            for label in DEMO_SAE_LABELS:
                assert page.locator("svg text", has_text=label).count() > 0, f"the Overview page does not show {label}"
            for number, link in enumerate(readme_links(), start=1):
                page.goto(base + link)
                settle(page)
                screenshot(page, f"readme-link-{number}")
                warnings = page.locator('[data-testid="stAlertContentWarning"]')
                assert warnings.count() == 0, f"{link}: {warnings.first.inner_text()}"
                text = page.locator('[data-testid="stMain"]').inner_text()
                assert not [phrase for phrase in NO_DATA if phrase in text], f"{link}: {text[:500]}"
                drawn = page.locator('[data-testid="stDataFrame"], [data-testid="stPlotlyChart"]').count()
                assert drawn, f"{link} shows no table and no chart"
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the server it started, by the server's PID
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_make_ingest_adds_local_sae_folders(tmp_path):
    model = write_tiny_gpt2(tmp_path / "tiny-gpt2", d_model=32)
    first = write_sae_folder(tmp_path / "sae-a", random_decoder(16, 32, seed=1), old_cfg(32, 16))
    second = write_sae_folder(
        tmp_path / "sae-b",
        random_decoder(24, 32, seed=2),
        new_cfg(32, 24, hook="blocks.0.hook_resid_post", under_metadata=True),
    )
    db = tmp_path / "local.duckdb"
    done = subprocess.run(
        ["make", "ingest", f"SAE_DIRS={first} {second}", f"MODEL={model}", f"DB={db}"],
        cwd=ROOT,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        counts = dict(con.execute("SELECT sae_id, count(*) FROM features GROUP BY sae_id").fetchall())
        d_sae = dict(con.execute("SELECT sae_id, d_sae FROM saes").fetchall())
    assert sorted(counts.values()) == [16, 24] and counts == d_sae


def test_readme_commands_run_as_printed_on_the_demo(tmp_path):
    # With no catalog yet, a query fails and says how to build one; its fix must work as written.
    failed = shell("llcat run saes", tmp_path)
    assert failed.returncode == 2 and failed.stdout == ""
    fix = re.search(r"`(llcat-ingest demo --db [^`]+)`", failed.stderr)
    assert fix, failed.stderr
    built = shell(fix.group(1), tmp_path, timeout_s=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert warning_lines(built.stdout + built.stderr) == [], "a clean demo build prints no warnings"
    assert shell("llcat run saes", tmp_path).returncode == 0

    for block in marked_blocks("bash"):
        for line in filter(None, (raw.strip() for raw in block.splitlines())):
            done = shell(line, tmp_path, timeout_s=600)
            assert done.returncode == 0 and "error:" not in done.stderr, (line, done.stderr[-3000:])
            output = done.stdout + done.stderr
            assert done.stdout.strip() or "wrote " in done.stderr, f"{line!r} printed nothing"
            assert "(no rows" not in output and "wrote 0 rows" not in output, f"{line!r} found nothing on the demo"
    assert (tmp_path / "skewed.csv").read_text().startswith('"sae_id"')

    script = tmp_path / "readme_example.py"
    script.write_text(marked_blocks("python")[0])
    done = shell(shlex.join(["python", str(script)]), tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "demo/blocks.1.hook_resid_pre" in done.stdout


@pytest.mark.parametrize("command", ["llcat --help", "llcat-ingest --help", "llcat-app --help"])
def test_every_cli_has_an_installed_command(command, tmp_path):
    done = shell(command, tmp_path)
    assert done.returncode == 0 and "usage: " + command.split()[0] in done.stdout, done.stdout + done.stderr
