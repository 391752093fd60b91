#!/usr/bin/env python3
"""Is ours at least as good as Optuna's TPE at every N? With seed noise in the answer.

Reads the JSON lines that `convrnn_search_bench --quality S --dump F` and
`optuna_tpe.py --quality S --dump F` append (one per function and sampler:
every seed's best at each checkpoint) and prints, per function and N, both
medians and a bootstrap 90% interval of (ours - Optuna) median, signed so
that positive means ours is better. "behind" only when the whole interval
is below zero.

  python3 bench/search/compare_quality.py ours.jsonl optuna.jsonl [--sampler tpe]
"""
import argparse
import json
import random
import statistics


def load(path):
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows[(r["function"], r["sampler"])] = r
    return rows


GOALS = {"convrnn": 1, "branin": -1, "hartmann6": -1}  # +1 maximise, -1 minimise


def interval(a, b, sign, rounds=4000, seed=1):
    rng = random.Random(seed)
    diffs = []
    for _ in range(rounds):
        ra = [a[rng.randrange(len(a))] for _ in a]
        rb = [b[rng.randrange(len(b))] for _ in b]
        diffs.append(sign * (statistics.median(ra) - statistics.median(rb)))
    diffs.sort()
    return diffs[int(0.05 * rounds)], diffs[int(0.95 * rounds)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ours")
    p.add_argument("optuna")
    p.add_argument("--sampler", default="tpe", help="our sampler to compare with optuna-tpe")
    args = p.parse_args()
    ours, theirs = load(args.ours), load(args.optuna)
    print(f"{'function':<10} {'N':>4} {'seeds':>11} {'ours':>9} {'optuna':>9} "
          f"{'ours-optuna 90% CI (+ = ours better)':>38}  verdict")
    for (function, sampler), mine in sorted(ours.items()):
        other = theirs.get((function, "optuna-tpe"))
        if sampler != args.sampler or other is None:
            continue
        sign = GOALS.get(function, 1)
        for k, n in enumerate(mine["checkpoints"]):
            if n not in other["checkpoints"]:
                continue
            a, b = mine["best"][k], other["best"][other["checkpoints"].index(n)]
            lo, hi = interval(a, b, sign)
            verdict = "ahead" if lo > 0 else "behind" if hi < 0 else "level (within noise)"
            print(f"{function:<10} {n:>4} {len(a):>5}/{len(b):<5} {statistics.median(a):>9.4f} "
                  f"{statistics.median(b):>9.4f} {'[' + format(lo, '+.4f') + ', ' + format(hi, '+.4f') + ']':>38}  {verdict}")


if __name__ == "__main__":
    main()
