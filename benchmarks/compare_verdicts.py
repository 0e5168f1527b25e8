"""Do two runs of the same battery reach the same scorecard verdicts? (fast vs exact mode)

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/compare_verdicts.py EXACT_RUN FAST_RUN

Reads both runs' scorecards (``report.scorecard.scorecard``), matches lines by (step, name)
and classifies each line's interval against its null: ``above``, ``below``, ``covers`` or
``undetermined`` (a bound is NaN). Prints the lines whose verdict differs, every line's
estimate shift, and a summary: lines compared, verdicts unchanged, the largest estimate
shift. Issue 15 asks this of fast mode: ``introscope battery --fast`` against
``introscope battery`` on the same machine.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")

from introscope.headlines import Headline
from introscope.report.scorecard import scorecard


def verdict_of(line: Headline) -> str:
    """Where the line's 95% interval lies against its null."""
    lo, hi = line.ci_low, line.ci_high
    if not line.available or math.isnan(line.estimate):
        return "n/a"
    if math.isnan(lo) or math.isnan(hi):
        return "undetermined"
    if lo > line.null:
        return "above"
    if hi < line.null:
        return "below"
    return "covers"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("exact_run")
    ap.add_argument("fast_run")
    args = ap.parse_args()
    a = {(ln.step, ln.name): ln for ln in scorecard(args.exact_run)}
    b = {(ln.step, ln.name): ln for ln in scorecard(args.fast_run)}
    shared = [k for k in a if k in b]
    only = sorted(set(a) ^ set(b), key=str)
    changed, shifts = [], []
    for key in shared:
        va, vb = verdict_of(a[key]), verdict_of(b[key])
        if va != vb:
            changed.append((key, va, vb))
        ea, eb = a[key].estimate, b[key].estimate
        if not (math.isnan(ea) or math.isnan(eb)):
            shifts.append((abs(ea - eb), key, ea, eb))
    for (step, name), va, vb in changed:
        print(f"verdict changed: step {step} {name!r}: {va} -> {vb}")
    for key in only:
        print(f"line in one run only: step {key[0]} {key[1]!r}")
    shifts.sort(reverse=True)
    print("largest estimate shifts (|exact - fast|, exact, fast):")
    for d, (step, name), ea, eb in shifts[:10]:
        print(f"  {d:.4g}  step {step} {name[:60]!r}: {ea:.4g} -> {eb:.4g}")
    same = sum(1 for _ in shared) - len(changed)
    n_moved = sum(1 for d, *_ in shifts if d > 0)
    print(
        f"{len(shared)} lines compared: {same} verdicts unchanged, {len(changed)} changed; "
        f"{n_moved} of {len(shifts)} estimates moved at all"
        + (f", the largest by {shifts[0][0]:.4g}" if shifts else "")
    )
    sys.exit(1 if changed or only else 0)


if __name__ == "__main__":
    main()
