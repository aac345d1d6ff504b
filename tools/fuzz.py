"""Run the random-graph parity fuzzer against torch for a while.

    python tools/fuzz.py --seconds 180            # until the time is up
    python tools/fuzz.py --graphs 5000 --seed 7   # a fixed number of graphs

Each graph is built by ``tests/engine/fuzz_graphs.py`` in the engine and in torch from the
same numpy leaves; values and gradients are compared.  Prints ``graphs tried: N`` and, for
every distinct failure, the seed and a shrunk standalone reproducer (steps that the failure
does not need are dropped one at a time).  Exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tests.engine._support.fuzz_graphs as fg  # noqa: E402


def _signature(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:120]}"


def _fails(program: fg.Program) -> str | None:
    """The failure signature of ``program``, or None when it passes (or is rejected)."""
    try:
        fg.compare(program)
    except fg.RejectedError:
        return None
    except Exception as exc:  # noqa: BLE001 - any engine error is a finding
        return _signature(exc)
    return None


def _kind(sig: str) -> str:
    # value/grad name numbers change while shrinking; compare the kind of failure only
    return sig.split(":")[0] + (":" + sig.split(":")[1].split()[0] if ":" in sig else "")


def _uses(text: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", text) is not None


def _prune(program: fg.Program) -> fg.Program:
    """Drop leaves and constants that nothing refers to any more."""
    text = " ".join([s.expr for s in program.steps] + [r for r, _ in program.backwards]
                    + program.retained)
    program.consts = [c for c in program.consts if _uses(text, c.name)]
    program.leaves = [lf for lf in program.leaves if _uses(text, lf.name)]
    return program


def shrink(program: fg.Program, sig: str) -> fg.Program:
    """Greedy: drop root terms, steps, backward passes and the retain list while the
    failure stays; then drop the leaves and constants nothing uses."""
    best = program
    changed = True
    while changed:
        changed = False
        for b in range(len(best.backwards)):
            terms = best.backwards[b][0].split(" + ")
            for i in range(len(terms) - 1, -1, -1):
                if len(terms) < 2:
                    break
                cand = copy.deepcopy(best)
                rest = terms[:i] + terms[i + 1:]
                cand.backwards[b] = (" + ".join(rest), cand.backwards[b][1])
                got = _fails(cand)
                if got is not None and _kind(got) == _kind(sig):
                    best, terms, changed = cand, rest, True
        for i in range(len(best.steps) - 1, -1, -1):
            cand = copy.deepcopy(best)
            gone = cand.steps.pop(i).name
            if any(_uses(s.expr, gone) for s in cand.steps) or any(
                    _uses(r, gone) for r, _ in cand.backwards) or gone in cand.retained:
                continue
            got = _fails(cand)
            if got is not None and _kind(got) == _kind(sig):
                best, changed = cand, True
        if len(best.backwards) > 1:
            cand = copy.deepcopy(best)
            cand.backwards = [(cand.backwards[0][0], False)]
            got = _fails(cand)
            if got is not None and _kind(got) == _kind(sig):
                best, changed = cand, True
        if best.retained:
            cand = copy.deepcopy(best)
            cand.retained = []
            got = _fails(cand)
            if got is not None and _kind(got) == _kind(sig):
                best, changed = cand, True
    return _prune(best)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    ap.add_argument("--graphs", type=int, default=None, help="stop after this many graphs")
    ap.add_argument("--seed", type=int, default=0, help="first seed (graphs use seed, seed+1..)")
    ap.add_argument("--max-steps", type=int, default=14, help="ops per graph, at most")
    ap.add_argument("--dtype", choices=["float32", "float64"], default=None)
    args = ap.parse_args(argv)
    # numpy and torch warn about inf - inf, empty means and so on: the values are compared
    warnings.simplefilter("ignore")

    deadline = time.monotonic() + args.seconds
    tried = rejected = refused = failed = 0
    failures: dict[str, tuple[int, fg.Program, str]] = {}
    seed = args.seed
    while time.monotonic() < deadline if args.graphs is None else tried < args.graphs:
        program = fg.build(fg.RandomDrawer(seed), dtype=args.dtype, max_steps=args.max_steps)
        tried += 1
        try:
            fg.compare(program)
        except fg.BothRefusedError:
            refused += 1
        except fg.RejectedError:
            rejected += 1
        except Exception as exc:  # noqa: BLE001
            failed += 1
            sig = _signature(exc)
            if _kind(sig) not in failures:
                failures[_kind(sig)] = (seed, program, traceback.format_exc(limit=-3))
                print(f"FAIL seed {seed}: {sig}", flush=True)
        seed += 1
        if tried % 1000 == 0:
            print(f"... {tried} graphs", flush=True)
    print(f"graphs tried: {tried} (compared: {tried - rejected - refused - failed}, "
          f"refused by both libraries: {refused}, skipped as out of range: {rejected}, "
          f"failed: {failed}, distinct failures: {len(failures)})")
    for kind, (s, program, tb) in failures.items():
        small = shrink(program, kind)
        print(f"\n=== {kind} (seed {s}, {len(program.steps)} steps, shrunk to "
              f"{len(small.steps)}) ===\n{tb}\n--- reproducer ---\n{small.source()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
