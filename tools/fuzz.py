"""Coverage-guided fuzzing of every target in ``fuzz/`` with cargo fuzz
(libFuzzer, AddressSanitizer), one after another, with a line per target:
executions, coverage, corpus, and whether anything crashed.

    python tools/fuzz.py [--seconds N] [--grow] [--dev] [TARGET...]

``make test-fuzz`` runs a short pass from the committed corpus
(``fuzz/corpus/<target>/``), new inputs going to a scratch directory, built
without optimizations (``--dev``: a build several times quicker, for a pass
of seconds);
``make fuzz`` (``--grow``) runs long and adds what it finds to the committed
corpus. A crash input is copied into the target's corpus, so every later
run replays it: commit it with the fix, as a regression vector.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"
TARGETS = ["ipc-json", "batch-frame", "shared-frame", "http-json", "grpc", "c-abi", "args"]
#: libFuzzer's status line: "#123 DONE cov: 456 ft: 789 corp: 12/3456b ...".
_STATUS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
_WRITTEN = re.compile(r"Test unit written to (\S+)")


def cargo_fuzz(*args: str) -> list[str]:
    # cargo fuzz needs nightly features (sanitizers); RUSTC_BOOTSTRAP lets
    # the stable toolchain use them.
    return ["cargo", "fuzz", *args, "--fuzz-dir", str(FUZZ)]


def run(
    target: str, seconds: float, grow: bool, scratch: Path, mode: list[str]
) -> tuple[bool, str]:
    """Fuzzes ``target`` for ``seconds``: (no crash, its summary line)."""
    corpus = FUZZ / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    # libFuzzer writes new inputs into the first directory it is given.
    dirs = [corpus] if grow else [scratch / target, corpus]
    dirs[0].mkdir(parents=True, exist_ok=True)
    command = [
        *cargo_fuzz("run", *mode, target),
        *map(str, dirs),
        "--",
        f"-max_total_time={seconds:g}",
        "-print_final_stats=1",
    ]
    env = {**os.environ, "RUSTC_BOOTSTRAP": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    log = done.stderr
    status = [m for line in log.splitlines() if (m := _STATUS.match(line))]
    stats = dict(re.findall(r"^stat::(\w+):\s+(\d+)", log, re.MULTILINE))
    if status:
        _, cov, ft, corp = status[-1].groups()
        execs = stats.get("number_of_executed_units", status[-1][1])
        line = f"{target:<12} {int(execs):>10,} execs  cov {cov:>5}  ft {ft:>6}  corpus {corp:>5}"
    else:
        line = f"{target:<12} (no status line)"
    if done.returncode == 0:
        return True, line + "  no crash"
    crash = _WRITTEN.search(log)
    if crash is None:
        return False, f"{line}\n{log[-3000:]}"
    saved = corpus / f"crash-{Path(crash[1]).name.removeprefix('crash-')}"
    shutil.copyfile(ROOT / crash[1], saved)  # (an absolute path stays absolute)
    # The sanitizer's report or the panic, rather than the backtrace's end.
    lines = log.splitlines()
    first = next((i for i, t in enumerate(lines) if "ERROR:" in t or "panicked" in t), 0)
    report = "\n".join(lines[first : first + 30])
    return False, f"{line}  CRASH: input saved as {saved.relative_to(ROOT)}\n{report}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="per target")
    parser.add_argument("--grow", action="store_true", help="add new inputs to fuzz/corpus")
    parser.add_argument("--dev", action="store_true", help="build without optimizations")
    parser.add_argument("targets", nargs="*", help=f"of {', '.join(TARGETS)} (default: all)")
    args = parser.parse_args()
    targets = args.targets or TARGETS
    unknown = set(targets) - set(TARGETS)
    if unknown:
        parser.error(f"unknown target(s) {', '.join(sorted(unknown))}: choose from {TARGETS}")
    env = {**os.environ, "RUSTC_BOOTSTRAP": "1"}
    print(f"building {len(targets)} fuzz target(s) (cargo fuzz, AddressSanitizer)", flush=True)
    mode = ["--dev"] if args.dev else []
    subprocess.run(cargo_fuzz("build", *mode), cwd=ROOT, env=env, check=True)
    print(f"fuzzing each for {args.seconds:g} s", flush=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="oxbridge-fuzz-") as scratch:
        for target in targets:
            passed, line = run(target, args.seconds, args.grow, Path(scratch), mode)
            print(line, flush=True)
            ok &= passed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
