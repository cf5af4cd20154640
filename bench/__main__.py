"""`make bench`: run every benchmark module (or those named) and let each print its table.

python -m bench                    # all
python -m bench interactions ws    # only bench_interactions and bench_ws
"""

import importlib
import pkgutil
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(BENCH_DIR)])
        if info.name.startswith("bench_")
    )
    wanted = argv or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names)}")
        return 2
    failures = 0
    for name in wanted:
        print(f"\n=== bench_{name} ===", flush=True)
        started = time.monotonic()
        # Each benchmark runs in its own process: its servers, settings and memory are its own.
        result = subprocess.run([sys.executable, "-m", f"bench.bench_{name}"], check=False)
        print(f"--- bench_{name}: exit {result.returncode} in {time.monotonic() - started:.0f} s")
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    importlib.invalidate_caches()
    sys.exit(main(sys.argv[1:]))
