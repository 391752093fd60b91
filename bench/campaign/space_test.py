#!/usr/bin/env python3
"""bench/campaign/space.py builds specs the trainer accepts, from every branch.

Draws specs through space.suggest() with a random stand-in for an Optuna
trial (no Optuna needed) until every cell choice of every layer and every
feedback edge has appeared, and checks each with `convrnn-worker --dry-run`;
also checks the HyperOpt sample conversion on a hand-made sample, and
run.py's --set overlay (a variant of the campaign without a copy of it).

Usage: space_test.py CONVRNN_WORKER CAMPAIGN_JSON
"""

import json
import math
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as run_lib  # noqa: E402
import space  # noqa: E402


class RandomTrial:
    """The suggest_* calls space.suggest() makes, answered at random."""

    def __init__(self, rng):
        self.rng, self.params = rng, {}

    def suggest_float(self, name, lo, hi, log=False):
        v = math.exp(self.rng.uniform(math.log(lo), math.log(hi))) if log else self.rng.uniform(lo, hi)
        self.params[name] = v
        return v

    def suggest_int(self, name, lo, hi):
        self.params[name] = self.rng.randint(lo, hi)
        return self.params[name]

    def suggest_categorical(self, name, choices):
        self.params[name] = self.rng.choice(choices)
        return self.params[name]


def main():
    worker, campaign_path = sys.argv[1], sys.argv[2]
    with open(campaign_path) as f:
        campaign = json.load(f)
    rng = random.Random(0)
    wanted = set()
    for i, layer in enumerate(campaign["space"]["layers"]):
        cell = layer["cell"]
        for option in cell.get("choice", [cell]):
            wanted.add((i, option["type"]))
    edges = set(space.descending_edges(campaign["space"]))
    seen, seen_edges, failures, checked = set(), set(), [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for draw in range(200):
            spec = space.suggest(RandomTrial(rng), campaign["space"])
            new = {(i, l["cell"]["type"]) for i, l in enumerate(spec["layers"])} - seen
            new_edges = {(e["from"], e["to"]) for e in spec["feedback"]} - seen_edges
            if not new and not new_edges:
                continue
            seen |= new
            seen_edges |= new_edges
            path = os.path.join(tmp, "spec.json")
            with open(path, "w") as f:
                json.dump(dict(spec, name="draw-%d" % draw), f)
            run = subprocess.run([worker, "--dry-run", "--spec", path], capture_output=True,
                                 text=True)
            checked += 1
            if run.returncode != 0:
                failures.append("draw %d: %s\n%s" % (draw, run.stderr.strip(), json.dumps(spec)))
            if seen >= wanted and seen_edges >= edges:
                break
    if seen != wanted or seen_edges != edges:
        failures.append("never drawn: cells %s, edges %s" % (sorted(wanted - seen),
                                                               sorted(edges - seen_edges)))
    sample = dict(campaign["space"], feedback={"2->1": True, "1->0": False, "2->0": True})
    fb = space.hyperopt_spec(sample)["feedback"]
    if fb != [{"from": 2, "to": 0}, {"from": 2, "to": 1}]:
        failures.append("hyperopt feedback conversion: %s" % fb)
    before = json.dumps(campaign, sort_keys=True)
    gp = run_lib.overlay(campaign, {"search": {"algorithm": "gp",
                                               "early_stopping": {"reduction_factor": 4}}})
    want = dict(campaign["search"]["early_stopping"], reduction_factor=4)
    if gp["search"]["algorithm"] != "gp" or gp["search"]["early_stopping"] != want:
        failures.append("--set overlay: search became %s" % json.dumps(gp["search"]))
    if gp["space"] != campaign["space"] or json.dumps(campaign, sort_keys=True) != before:
        failures.append("--set overlay changed the space or the campaign it was laid over")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    print("%d specs from every cell choice and feedback edge accepted by the trainer" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
