"""Agreement of the rule grader with the hand-labelled responses (docs/grading.md).

Run:  python benchmarks/bench_grader.py [--split test|dev|all] [--errors]

Prints, per (experiment, criterion), Cohen's kappa between the rule grader as it is now and
the labels in ``src/introscope/grading/labels/grader_labels.jsonl``, with a 95% percentile
bootstrap interval over responses (2000 resamples, seed 0), the raw agreement and the label
counts, and the same kappa without the answers whose label was marked ambiguous (reports
use all answers). ``--errors`` lists the responses where the rules and the labels disagree (use it on
``dev`` only: the rules are tuned on dev and judged on test).
"""

from __future__ import annotations

import argparse

from introscope.grading.validation import (
    CRITERIA,
    KAPPA_TARGET,
    load_labels,
    measure,
    rule_grade,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test", choices=["test", "dev", "all"])
    ap.add_argument("--errors", action="store_true", help="list the disagreements")
    args = ap.parse_args()
    items = load_labels()
    print(f"{len(items)} labelled responses; split: {args.split}; target kappa {KAPPA_TARGET}\n")
    print(
        "| experiment | criterion | n | labels | agreement | kappa [95% CI] | trust "
        "| unambiguous only: n, kappa [95% CI] |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for experiment, criterion in CRITERIA:
        g = measure(items, experiment, criterion, args.split)
        u = measure(items, experiment, criterion, args.split, unambiguous=True)
        labels = ", ".join(f"{k} {v}" for k, v in g.classes.items())
        trust = "ok" if not g.low_trust else ("low" if g.determined else "not measurable")
        print(
            f"| {experiment} | {criterion} | {g.n} | {labels} | {g.agreement:.2f} | "
            f"{g.kappa:.2f} [{g.ci_low:.2f}, {g.ci_high:.2f}] | {trust} | "
            f"{u.n}, {u.kappa:.2f} [{u.ci_low:.2f}, {u.ci_high:.2f}] |"
        )
    if not args.errors:
        return
    print()
    for experiment, criterion in CRITERIA:
        for it in items:
            if it.experiment != experiment or criterion not in it.labels:
                continue
            if args.split != "all" and it.split != args.split:
                continue
            got = rule_grade(it, criterion)
            if got != it.labels[criterion]:
                amb = " (ambiguous)" if criterion in it.ambiguous else ""
                print(
                    f"{experiment}/{criterion}: label {it.labels[criterion]} rules {got}{amb} "
                    f"[{it.id[:8]} {it.control} {it.concept}] {it.response!r}"
                )


if __name__ == "__main__":
    main()
