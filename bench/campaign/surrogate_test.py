#!/usr/bin/env python3
"""convrnn_campaign_surrogate answers from the recorded curves and runs the
campaign's own search on them.

On a table of 300 recorded trials (random specs of the campaign's space,
curves from a known rule that favours a recurrent top cell and a high
learning rate): a recorded spec is looked up exactly; simulated campaigns
write run.py's format (every trial a prefix of a recorded curve, pruned ones
stopped at a rung), are the same for the same seed, learn the rule, and
report.py reads them.

Usage: surrogate_test.py CONVRNN_CAMPAIGN_SURROGATE CAMPAIGN_JSON
"""

import json
import math
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import space  # noqa: E402
from space_test import RandomTrial  # noqa: E402


def rule(spec):
    top = spec["layers"][2]["cell"]["type"]
    final = 0.6 + (0.15 if top == "rgc" else 0.0) + 0.1 * (math.log10(spec["train"]["lr"]) + 1.7)
    return [round(final - 0.2, 4), round(final - 0.1, 4), round(final, 4)]


def main():
    surrogate, campaign_path = sys.argv[1], sys.argv[2]
    with open(campaign_path) as f:
        campaign = json.load(f)
    rng = random.Random(1)
    specs = [space.suggest(RandomTrial(rng), campaign["space"]) for _ in range(300)]
    recorded = [{"number": i, "epochs": 3, "train_seconds": 3.0, "curve": rule(s),
                 "final": rule(s)[-1], "pruned": False, "end_s": float(i),
                 "spec": {"layers": [{"channels": l["channels"], "cell": l["cell"]}
                                     for l in s["layers"]],
                          "feedback": s["feedback"], "lr": s["train"]["lr"]}}
                for i, s in enumerate(specs)]
    curves = {tuple(r["curve"]) for r in recorded}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        table = os.path.join(tmp, "table")
        os.makedirs(table)
        with open(os.path.join(table, "hyperopt-0.json"), "w") as f:
            json.dump({"tool": "hyperopt", "seed": 0, "trials": 300, "max_epochs": 3,
                       "trials_run": recorded}, f)

        # A recorded spec comes back with its own curve.
        looked = subprocess.run(
            [surrogate, "--lookup", "--campaign", campaign_path, "--table", table],
            input="".join(json.dumps(s) + "\n" for s in specs[:20]), capture_output=True,
            text=True, check=True).stdout.splitlines()
        for s, line in zip(specs[:20], looked):
            if json.loads(line)["curve"] != rule(s):
                failures.append("lookup of a recorded spec: %s, expected %s" % (line, rule(s)))
        if len(looked) != 20:
            failures.append("lookup answered %d of 20 specs" % len(looked))

        runs = {}
        for name in ("a", "b"):
            out = os.path.join(tmp, name)
            subprocess.run([surrogate, "--campaign", campaign_path, "--table", table, "--out",
                            out, "--seeds", "0-3", "--trials", "40"], check=True)
            runs[name] = {}
            for seed in range(4):
                with open(os.path.join(out, "ours-%d.json" % seed)) as f:
                    runs[name][seed] = json.load(f)
        if runs["a"] != runs["b"]:
            failures.append("the same seeds gave different runs")
        late_rgc = late = 0
        for seed, run in runs["a"].items():
            trials = run["trials_run"]
            if len(trials) != 40 or sorted(t["number"] for t in trials) != list(range(40)):
                failures.append("seed %d: trials %s" % (seed, [t["number"] for t in trials]))
            for t in trials:
                full = next((c for c in curves if list(c[:t["epochs"]]) == t["curve"]), None)
                if full is None:
                    failures.append("seed %d trial %d: curve %s was never recorded"
                                    % (seed, t["number"], t["curve"]))
                if t["pruned"] != (t["epochs"] < 3) or (t["final"] is None) != t["pruned"]:
                    failures.append("seed %d trial %d: pruned %s after %d epochs, final %s"
                                    % (seed, t["number"], t["pruned"], t["epochs"], t["final"]))
                if t["number"] >= 20:
                    late += 1
                    late_rgc += t["spec"]["layers"][2]["cell"]["type"] == "rgc"
            if not any(t["pruned"] for t in trials):
                failures.append("seed %d: ASHA pruned nothing" % seed)
        # The top cell is rgc in a quarter of random draws; the search learns it.
        if late_rgc < 0.5 * late:
            failures.append("only %d of %d trials after the 20th have the rewarded top cell"
                            % (late_rgc, late))

        report = subprocess.run([sys.executable, os.path.join(HERE, "report.py"),
                                 os.path.join(tmp, "a"), "--trials", "12,40"],
                                capture_output=True, text=True, check=True).stdout
        if "| ours | 40 |" not in report:
            failures.append("report.py did not read the runs:\n" + report)

    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("surrogate: lookups exact, 4 seeds x 40 trials consistent, rewarded top cell in "
          "%d of %d late trials" % (late_rgc, late))


if __name__ == "__main__":
    main()
