#!/usr/bin/env python3
"""Tables of bench/campaign results (run.py's OUT/<tool>-<seed>.json).

For each tool, over its seeds (medians with 95% bootstrap intervals, 10,000
resamples of the seeds):

- best validation top-1 after k trials: the best final value among trials
  0..k-1 (by the order they were proposed) that trained to the end; pruned
  trials never count as best;
- compute: epochs and the trainer's training seconds spent on those trials;
- compute to reach a target: the anchors' best median at k trials (or the
  values given with --targets, for a folder of one tool's runs). Trials
  are taken in the order they finished, compute summed, until the best so
  far reaches the target; a run that never does counts as not reaching it
  (a median over such runs is reported as "not reached").

Usage: report.py OUT [--trials 24,64] [--ours ours] [--targets 0.794,0.803]
"""

import argparse
import glob
import json
import math
import os
import random
import statistics

INF = math.inf


def load(out):
    runs = {}
    for path in sorted(glob.glob(os.path.join(out, "*.json"))):
        with open(path) as f:
            r = json.load(f)
        runs.setdefault(r["tool"], []).append(r)
    return runs


def best_after(run, k):
    vals = [t["final"] for t in run["trials_run"] if t["number"] < k and t["final"] is not None]
    return max(vals) if vals else 0.0


def compute_after(run, k, key):
    return sum(t[key] for t in run["trials_run"] if t["number"] < k)


def by_finish(run, key):
    """(compute spent so far, best full-trial value so far) after each trial,
    trials in the order they finished."""
    spent, best = 0.0, -INF
    for t in sorted(run["trials_run"], key=lambda t: t["end_s"]):
        spent += t[key]
        if t["final"] is not None:
            best = max(best, t["final"])
        yield spent, best


def compute_to_reach(run, target, key):
    return next((spent for spent, best in by_finish(run, key) if best >= target - 1e-12), INF)


def best_within(run, budget, key):
    """Best full-trial value among the trials finished within `budget` compute."""
    best = 0.0
    for spent, b in by_finish(run, key):
        if spent > budget + 1e-9:
            break
        best = max(best, b)
    return best


def median(xs):
    return statistics.median(xs)


def bootstrap(xs, stat=median, n=10000, seed=0):
    rng = random.Random(seed)
    vals = sorted(stat([rng.choice(xs) for _ in xs]) for _ in range(n))
    return vals[int(0.025 * n)], vals[int(0.975 * n) - 1]


def fmt(x, digits=3):
    if x == INF:
        return "not reached"
    return ("%." + str(digits) + "f") % x


def cell(xs, digits=3):
    lo, hi = bootstrap(xs)
    return "%s [%s, %s]" % (fmt(median(xs), digits), fmt(lo, digits), fmt(hi, digits))


def report(out, ks, ours, targets=None):
    runs = load(out)
    tools = sorted(runs, key=lambda t: (t != ours, t))
    anchors = [t for t in tools if t != ours]
    lines = []
    seeds = {t: len(runs[t]) for t in tools}
    lines.append("Runs: " + ", ".join("%s %d seeds" % (t, seeds[t]) for t in tools) + ".")
    lines.append("")
    lines.append("| tool | trials | best val top-1, median [95% CI] | epochs | training s "
                 "| pruned | wall s |")
    lines.append("| --- | ---: | --- | --- | --- | ---: | ---: |")
    for k in ks:
        for t in tools:
            rs = runs[t]
            best = [best_after(r, k) for r in rs]
            ep = [compute_after(r, k, "epochs") for r in rs]
            sec = [compute_after(r, k, "train_seconds") for r in rs]
            pruned = median([sum(1 for x in r["trials_run"] if x["number"] < k and x["pruned"])
                             for r in rs])
            wall = median([max([x["end_s"] for x in r["trials_run"] if x["number"] < k] or [0])
                           for r in rs])
            lines.append("| %s | %d | %s | %s | %s | %g | %.0f |" % (
                t, k, cell(best), cell(ep, 0), cell(sec, 0), pruned, wall))
    lines.append("")
    lines.append("Best val top-1 against compute spent (trials in the order they finished), "
                 "median [95% CI]:")
    lines.append("")
    budgets = [b for b in (12, 24, 48, 72, 96, 144, 192) if any(
        compute_after(r, 10**9, "epochs") >= b for rs in runs.values() for r in rs)]
    lines.append("| tool | " + " | ".join("%d epochs" % b for b in budgets) + " |")
    lines.append("| --- |" + " --- |" * len(budgets))
    for t in tools:
        lines.append("| %s | " % t + " | ".join(
            cell([best_within(r, b, "epochs") for r in runs[t]]) for b in budgets) + " |")
    lines.append("")
    lines.append("Compute to reach %s (epochs; training seconds), "
                 "median [95%% CI] over seeds; ratio = anchor's median / ours:" % (
                     "the given targets" if targets else "the anchors' best median best"))
    lines.append("")
    lines.append("| trials | target | tool | reached | epochs | training s | ratio (epochs) |")
    lines.append("| ---: | ---: | --- | ---: | --- | --- | ---: |")
    if targets:
        goals = [("-", t) for t in targets]
    else:
        goals = [(k, max(median([best_after(r, k) for r in runs[a]]) for a in anchors))
                 for k in (ks if anchors else [])]
    for k, target in goals:
        med = {}
        for t in tools:
            rs = runs[t]
            ep = [compute_to_reach(r, target, "epochs") for r in rs]
            sec = [compute_to_reach(r, target, "train_seconds") for r in rs]
            med[t] = median(ep)
            reached = sum(1 for x in ep if x < INF)
            if t == ours or ours not in med:
                ratio = ""
            elif med[ours] in (0, INF):
                ratio = "ours not reached"
            elif med[t] < INF:
                ratio = "%.2fx" % (med[t] / med[ours])
            else:  # the anchor's median run never reached it: at least its whole budget
                spent = median([compute_after(r, 10**9, "epochs") for r in rs])
                ratio = "> %.2fx" % (spent / med[ours])
            lines.append("| %s | %.4f | %s | %d/%d | %s | %s | %s |" % (
                k, target, t, reached, len(rs), cell(ep, 0), cell(sec, 0), ratio))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--trials", default="12,24,64")
    ap.add_argument("--ours", default="ours")
    ap.add_argument("--targets", default="",
                    help="e.g. 0.794,0.803: compute to reach these instead of the anchors' "
                         "median bests (needed when OUT holds one tool)")
    args = ap.parse_args()
    targets = [float(t) for t in args.targets.split(",") if t]
    print(report(args.out, [int(k) for k in args.trials.split(",")], args.ours, targets))


if __name__ == "__main__":
    main()
