"""What an embedder gets: the disk taken by installing the contacts and tasks plugins alone, and the build's noise.

Makes a fresh virtual environment in a temporary folder, measures its
site-packages (pip alone: the baseline), then installs, **not** editable, as
an embedder would from the packages: the contract (``hookspecs``), the kernel
(``.``, no extras) and the ``contacts`` and ``tasks`` plugins. Prints the
megabytes they added and the ten largest packages, and counts the lines the
build printed on its standard error (setuptools' licence deprecation walls
were the noise of the first release). With ``--pdf`` the contacts plugin's
``pdf`` extra (reportlab and pillow, for label sheets) is installed too, for
reference. Target (issue 19): at most 40 MB added, and a quiet build.

    python -m bench.bench_install [--pdf]

The packages come from the index pip is configured with (network or a
local mirror); nothing here is timed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._timing import Figure, parse_args, print_table, section

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 40.0


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _site_packages(venv: Path) -> Path:
    found = list((venv / "lib").glob("python3*/site-packages"))
    assert found, f"no site-packages under {venv}"
    return found[0]


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pdf", action="store_true", help="also the contacts plugin's pdf extra (reportlab, pillow)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv, "Disk taken by installing contacts + tasks alone (issue 19).", _add_options)
    section("install size: contacts + tasks, not editable")
    with tempfile.TemporaryDirectory(prefix="bench-install-") as folder:
        venv = Path(folder) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        site = _site_packages(venv)
        before = _size(site)
        there = {p.name for p in site.iterdir()}  # pip and setuptools, which the venv came with
        # the sources copied: pip builds in the source folder, and a stale build/ there could end up in a wheel
        sources = Path(folder) / "src"
        skip = shutil.ignore_patterns(".venv", "build", "*.egg-info", "__pycache__", ".git", "site")
        shutil.copytree(
            ROOT, sources, ignore=lambda d, names: skip(d, names) | ({"plugins"} if d == str(ROOT) else set())
        )
        for name in ("contacts", "tasks"):
            shutil.copytree(ROOT / "plugins" / name, sources / "plugins" / name, ignore=skip)
        contacts = "./plugins/contacts[pdf]" if args.pdf else "./plugins/contacts"
        command = [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-cache-dir",
            "./hookspecs",
            ".",
            contacts,
            "./plugins/tasks",
        ]
        done = subprocess.run(command, cwd=sources, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
            raise SystemExit(f"pip install failed with exit code {done.returncode}")
        added = _size(site) - before
        # what the build says; not this machine's pip configuration (an index folder it lacks) nor pip's upgrade notice
        noise = [
            line
            for line in done.stderr.splitlines()
            if line.strip() and "pip is available" not in line and not line.startswith("WARNING: Location 'file:")
        ]
        packages = sorted(
            (
                (p.name, _size(p))
                for p in site.iterdir()
                if p.is_dir() and p.name not in there and not p.name.endswith((".dist-info", "__pycache__"))
            ),
            key=lambda item: -item[1],
        )
        print("largest packages added:")
        for name, size in packages[:10]:
            print(f"  {name:<28} {size / 1e6:6.1f} MB")
        print(f"lines the build printed on standard error: {len(noise)}")
        for line in noise[:10]:
            print(f"  {line[:150]}")
        print_table(
            "site-packages added by hookspecs + crm-core + crm-contacts + crm-tasks"
            + (" (with crm-contacts[pdf])" if args.pdf else ""),
            [Figure("installed size", added / 1e6, "MB", target_value=None if args.pdf else TARGET_MB)],
        )


if __name__ == "__main__":
    main()
