#!/usr/bin/env python3
"""Early-stopping rules replayed on fully trained campaigns (no training).

HyperOpt's runs in a bench/campaign result folder train every trial to the
end, so each trial's whole learning curve is known. Replaying their trials in
order through a stopping rule tells what the rule would have spent and which
trials it would have let finish, with the proposals held fixed (the sampler
does not react to the pruning; in a real campaign it would).

Rules: none; ASHA as the service and Optuna's SuccessiveHalvingPruner run it
(rungs at 1 and 2 epochs, a trial continues when it is in the top 1/eta of
the values seen at that rung); ASHA over the last W values at each rung only
(a threshold that follows the sampler as it converges); ASHA on a predicted
final value (rung value + the mean gain to the last epoch of finished trials
with the same cell types, all finished trials while fewer than 2 share them),
which protects slow starters such as recurrent top layers.

Usage: stopping_replay.py OUT [--tool hyperopt] [--targets 0.79,0.795,0.8]
"""

import argparse
import glob
import json
import math
import os
import statistics


def family(trial):
    return tuple(layer["cell"]["type"] for layer in trial["spec"]["layers"])


class Asha:
    def __init__(self, eta=2, window=None, predict=False):
        self.eta, self.window, self.predict = eta, window, predict
        self.rungs = {}
        self.finished = []  # (family, curve)

    def gain(self, fam, epoch):
        same = [c[-1] - c[epoch - 1] for f, c in self.finished if f == fam]
        pool = same if len(same) >= 2 else [c[-1] - c[epoch - 1] for _, c in self.finished]
        return statistics.mean(pool) if pool else 0.0

    def keep(self, fam, epoch, value):
        rung = self.rungs.setdefault(epoch, [])
        rung.append((fam, value))
        pool = rung if self.window is None else rung[-self.window:]
        score = (lambda f, v: v + self.gain(f, epoch)) if self.predict else (lambda f, v: v)
        ranked = sorted((score(f, v) for f, v in pool), reverse=True)
        return score(fam, value) >= ranked[max(1, len(ranked) // self.eta) - 1]

    def done(self, fam, curve):
        self.finished.append((fam, curve))


def replay(run, make_rule, rungs, targets):
    rule = make_rule() if make_rule else None
    spent, best, reach = 0, 0.0, {t: math.inf for t in targets}
    for trial in sorted(run["trials_run"], key=lambda t: t["number"]):
        curve, fam, epochs = trial["curve"], family(trial), len(trial["curve"])
        if rule:
            for r in rungs:
                if r < len(curve) and not rule.keep(fam, r, curve[r - 1]):
                    epochs = r
                    break
        spent += epochs
        if epochs == len(curve):
            best = max(best, curve[-1])
            if rule:
                rule.done(fam, curve)
        for t in targets:
            if best >= t and reach[t] == math.inf:
                reach[t] = spent
    return best, spent, reach


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tool", default="hyperopt")
    ap.add_argument("--targets", default="0.79,0.795,0.8")
    args = ap.parse_args()
    targets = [float(t) for t in args.targets.split(",")]
    runs = []
    for path in sorted(glob.glob(os.path.join(args.out, "%s-*.json" % args.tool))):
        with open(path) as f:
            run = json.load(f)
        if all(len(t["curve"]) == run["max_epochs"] for t in run["trials_run"]):
            runs.append(run)
    if not runs:
        raise SystemExit("no fully trained %s runs in %s" % (args.tool, args.out))
    max_epochs = runs[0]["max_epochs"]
    rungs = [r for r in (1, 2, 4, 8, 16, 32) if r < max_epochs]
    rules = [("none", None), ("ASHA eta 2", lambda: Asha(2)), ("ASHA eta 3", lambda: Asha(3)),
             ("ASHA eta 2, last 8", lambda: Asha(2, window=8)),
             ("ASHA eta 2, last 16", lambda: Asha(2, window=16)),
             ("ASHA eta 2, predicted final", lambda: Asha(2, predict=True))]
    print("%d %s runs, %d trials each; medians over runs" % (len(runs), args.tool,
                                                            len(runs[0]["trials_run"])))
    print()
    print("| rule | best | epochs | " + " | ".join("epochs to %.3f (runs)" % t for t in targets)
          + " |")
    print("| --- | ---: | ---: |" + " ---: |" * len(targets))
    for name, make in rules:
        res = [replay(r, make, rungs, targets) for r in runs]
        cells = []
        for t in targets:
            reached = [x[2][t] for x in res]
            med = statistics.median(reached)
            cells.append("%s (%d/%d)" % ("not reached" if med == math.inf else "%g" % med,
                                         sum(1 for x in reached if x < math.inf), len(res)))
        print("| %s | %.4f | %g | %s |" % (name, statistics.median(x[0] for x in res),
                                           statistics.median(x[1] for x in res), " | ".join(cells)))


if __name__ == "__main__":
    main()
