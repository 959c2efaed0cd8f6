"""Run every ``bench/bench_*.py`` module's ``main()`` in turn.

    python -m bench                 # every benchmark, full size
    python -m bench --quick         # smaller, for a smoke run
    python -m bench cli_startup     # only the named ones (bench_<name>.py)

A benchmark that raises is reported and the others still run; the exit code
is then 1.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def available() -> list[str]:
    """The benchmark modules' short names (``bench_<name>.py``), sorted."""
    here = Path(__file__).parent
    return sorted(m.name[len("bench_") :] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the benchmarks in bench/.")
    parser.add_argument("--quick", action="store_true", help="forwarded to each benchmark: fewer rows and repeats")
    parser.add_argument("only", nargs="*", metavar="NAME", help=f"run only these ({', '.join(names)})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.only if n.removeprefix("bench_") not in names]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; the benchmarks are: {', '.join(names)}")
    chosen = [n.removeprefix("bench_") for n in args.only] or names
    forward = ["--quick"] if args.quick else []
    failed = []
    for name in chosen:
        print(f"\n######## bench.bench_{name} {' '.join(forward)}".rstrip(), flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            module.main(forward)
        except SystemExit as exc:
            if exc.code not in (0, None):
                failed.append(name)
                print(f"bench_{name} exited with {exc.code}", file=sys.stderr)
        except Exception:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            traceback.print_exc()
        print(f"(bench_{name}: {time.perf_counter() - start:.1f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
