"""What every run worker and CLI process pays to load the code location: `-X importtime` of
`import licitacao_pipeline.definitions` in fresh processes, against the same process importing
only what Dagster itself loads.

Prints, medians over `--repeat` fresh processes:
  - the whole import, and `import dagster` alone (wall time of the process, Python's start
    included in both);
  - the project's share: the cumulative import time of `licitacao_pipeline.definitions` in a
    process that imported `dagster` first, and in one that also imported `sqlalchemy` first
    (a run worker always has it: Dagster's own storage is built on it);
  - the ten costliest modules below the definitions, so a heavy import that crept back shows.
Target: the project's share over dagster + sqlalchemy at most 0.3 s.

    python benchmarks/bench_inicio.py [--repeat 5]
"""

import argparse
import re
import statistics
import subprocess
import sys
import time

TARGET_S = 0.3
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def wall(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True)
    return time.perf_counter() - started


def importtime(preload: str) -> tuple[float, list[tuple[float, str]]]:
    """Cumulative seconds of the definitions' import after ``preload``, and its costliest
    descendants (seconds, module)."""
    code = f"{preload}; import licitacao_pipeline.definitions"
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [m for line in proc.stderr.splitlines() if (m := _LINE.match(line))]
    names = [m[4] for m in rows]
    end = names.index("licitacao_pipeline.definitions")
    start = max((i for i, n in enumerate(names[:end]) if n in preload.split()), default=-1)
    below = [(int(m[2]) / 1e6, m[4]) for m in rows[start + 1 : end]]
    return int(rows[end][2]) / 1e6, sorted(below, reverse=True)[:10]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.repeat
    whole = statistics.median(wall("import licitacao_pipeline.definitions") for _ in range(n))
    dagster = statistics.median(wall("import dagster") for _ in range(n))
    over_dagster = [importtime("import dagster")[0] for _ in range(n)]
    samples = [importtime("import dagster, sqlalchemy") for _ in range(n)]
    over_both = statistics.median(s for s, _ in samples)
    print(f"import licitacao_pipeline.definitions: {whole:.3f} s (process wall, median of {n})")
    print(f"import dagster alone:                  {dagster:.3f} s")
    print(f"project's share after dagster:         {statistics.median(over_dagster):.3f} s")
    print(
        f"project's share after dagster + sqlalchemy: {over_both:.3f} s "
        f"(target <= {TARGET_S} s: {'met' if over_both <= TARGET_S else 'NOT met'})"
    )
    print("costliest imports below the definitions:")
    for seconds, module in samples[0][1]:
        print(f"  {seconds:.3f} s  {module}")


if __name__ == "__main__":
    main()
