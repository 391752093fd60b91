#!/usr/bin/python3
"""Optuna TPE suggestion latency on the space of suggest_latency.cc, and the ratio to ours.

Same conditional space (6 layers x {cell type, kernel, decay}, 15 feedback
edges, lr) and objective as bench/search/suggest_latency.cc. For each history
size N the study is filled with N random completed trials (add_trials), then
each timed sample is ask + the define-by-run suggestions + tell.

  /usr/bin/python3 bench/search/optuna_tpe.py --cpp build-search/bench/search/convrnn_search_bench
  /usr/bin/python3 bench/search/optuna_tpe.py --quality 20   # median best after 25..200 trials
  /usr/bin/python3 bench/search/optuna_tpe.py --quality 20 --function branin,hartmann6
  /usr/bin/python3 bench/search/optuna_tpe.py --quality 200 --function branin --dump optuna.jsonl

--function picks the quality objectives: convrnn (the space above, maximise,
optimum 3.8), branin (x1 in [-5, 10], x2 in [0, 15], minimise, optimum
0.397887), hartmann6 ([0, 1]^6, minimise, optimum -3.32237); the latter two
are uniform parameters x0.. as in suggest_latency.cc.

Needs Debian's python3-optuna (deps/debian-packages.txt). Reference only; never linked.
"""
import argparse
import json
import math
import random
import statistics
import subprocess
import time

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

TYPES = ["feedforward", "time_decay", "gru", "rgc"]


def suggest(trial):
    """Samples the space through a trial (define-by-run) and returns the objective."""
    f = 0.0
    for l in range(6):
        kernel = trial.suggest_categorical(f"layers[{l}].kernel", [1, 3, 5, 7])
        f += 0.1 if kernel == 5 else 0.0
        cell = trial.suggest_categorical(f"layers[{l}].cell.type", TYPES)
        if cell == "time_decay":
            d = trial.suggest_float(f"layers[{l}].cell[time_decay].decay_init", -1.0, 1.0)
            f += 0.2 - 0.1 * abs(d)
        elif cell == "gru":
            trial.suggest_categorical(f"layers[{l}].cell[gru].recurrent_kernel", [1, 3, 5])
        elif cell == "rgc":
            trial.suggest_categorical(f"layers[{l}].cell[rgc].tau_kernel", [1, 3, 5, 7])
            t = trial.suggest_float(f"layers[{l}].cell[rgc].tau_offset", 0.0, 2.0)
            f += 0.5 - 0.2 * abs(t - 0.9)
    for to in range(6):
        for frm in range(to + 1, 6):
            if trial.suggest_categorical(f"feedback[{frm}->{to}].enabled", [False, True]):
                f += 0.05 if frm - to == 2 else -0.02
    lr = trial.suggest_float("train.lr", 1e-4, 1.0, log=True)
    x = math.log10(lr) + 1.5
    return f - 0.1 * x * x


def branin(trial):
    x1 = trial.suggest_float("x0", -5.0, 10.0)
    x2 = trial.suggest_float("x1", 0.0, 15.0)
    a = x2 - 5.1 / (4 * math.pi ** 2) * x1 * x1 + 5 / math.pi * x1 - 6
    return a * a + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


H6_ALPHA = [1.0, 1.2, 3.0, 3.2]
H6_A = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
H6_P = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]


def hartmann6(trial):
    x = [trial.suggest_float(f"x{j}", 0.0, 1.0) for j in range(6)]
    return -sum(H6_ALPHA[i] * math.exp(-sum(H6_A[i][j] * (x[j] - H6_P[i][j]) ** 2 for j in range(6)))
                for i in range(4))


# name -> (objective, direction, optimum)
FUNCTIONS = {"convrnn": (suggest, "maximize", 3.8),
             "branin": (branin, "minimize", 0.397887),
             "hartmann6": (hartmann6, "minimize", -3.32237)}


class RandomTrial:
    """Stands in for optuna.Trial to draw a random point and record its distributions."""

    def __init__(self, rng):
        self.rng, self.params, self.dists = rng, {}, {}

    def suggest_categorical(self, name, choices):
        self.params[name] = self.rng.choice(choices)
        self.dists[name] = CategoricalDistribution(choices)
        return self.params[name]

    def suggest_float(self, name, lo, hi, log=False):
        v = math.exp(self.rng.uniform(math.log(lo), math.log(hi))) if log else self.rng.uniform(lo, hi)
        self.params[name] = v
        self.dists[name] = FloatDistribution(lo, hi, log=log)
        return v


def measure(n, samples):
    rng = random.Random(n)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    trials = []
    for _ in range(n):
        t = RandomTrial(rng)
        value = suggest(t)
        trials.append(optuna.trial.create_trial(params=t.params, distributions=t.dists, value=value))
    study.add_trials(trials)
    ms = []
    for _ in range(samples):
        start = time.perf_counter()
        trial = study.ask()
        value = suggest(trial)
        study.tell(trial, value)
        ms.append(1000 * (time.perf_counter() - start))
    ms.sort()
    return ms[len(ms) // 2], ms[min(len(ms) - 1, int(0.99 * len(ms)))]


def quality(seeds, function, dump=None):
    objective, direction, optimum = FUNCTIONS[function]
    sign = 1 if direction == "maximize" else -1
    checkpoints = [25, 50, 100, 200]
    print(f"{function}: {direction}, optimum {optimum}")
    print(f"{'sampler':<10}" + "".join(f" {'best@' + str(c):>10}" for c in checkpoints)
          + f"   (median of {seeds} seeds)")
    for name, make in (("random", optuna.samplers.RandomSampler),
                       ("optuna-tpe", optuna.samplers.TPESampler)):
        best = [[] for _ in checkpoints]
        for seed in range(1, seeds + 1):
            study = optuna.create_study(direction=direction, sampler=make(seed=seed))
            b = -math.inf
            for t in range(checkpoints[-1]):
                trial = study.ask()
                value = objective(trial)
                study.tell(trial, value)
                b = max(b, sign * value)
                if t + 1 in checkpoints:
                    best[checkpoints.index(t + 1)].append(sign * b)
        print(f"{name:<10}" + "".join(f" {statistics.median(v):>10.4f}" for v in best), flush=True)
        if dump:
            dump.write(json.dumps({"function": function, "sampler": name, "impl": "optuna",
                                   "checkpoints": checkpoints, "best": best}) + "\n")
            dump.flush()


def ours(binary):
    rows = {}
    out = subprocess.run([binary, "--samples", "200"], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "tpe":
            rows[int(f[1])] = (float(f[2]), float(f[3]))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpp", help="path of convrnn_search_bench, to print the ratio")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--quality", type=int, default=0, help="seeds for the quality run")
    parser.add_argument("--dump", help="append each sampler's per-seed bests as JSON lines "
                        "(for compare_quality.py)")
    parser.add_argument("--function", default="convrnn",
                        help="comma-separated quality objectives: " + ",".join(FUNCTIONS))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.quality:
        dump = open(args.dump, "a") if args.dump else None
        for function in args.function.split(","):
            quality(args.quality, function, dump)
        return
    cpp = ours(args.cpp) if args.cpp else {}
    print(f"optuna {optuna.__version__}")
    print(f"{'trials':>8} {'optuna_p50_ms':>14} {'optuna_p99_ms':>14} {'ours_p50_ms':>12} {'ratio_p50':>10}")
    for n in (int(s) for s in args.sizes.split(",")):
        samples = 30 if n <= 100 else 10 if n <= 1000 else 3
        p50, p99 = measure(n, samples)
        mine = cpp.get(n, (float("nan"), float("nan")))[0]
        print(f"{n:>8} {p50:>14.1f} {p99:>14.1f} {mine:>12.3f} {p50 / mine:>10.0f}x", flush=True)


if __name__ == "__main__":
    main()
