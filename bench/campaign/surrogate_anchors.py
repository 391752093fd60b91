#!/usr/bin/env python3
"""The anchors (Optuna, HyperOpt) on the campaign benchmark's surrogate.

Same settings as run.py's real runs (Optuna: TPESampler(seed) +
SuccessiveHalvingPruner with the campaign's ASHA reduction factor and first
rung, two trials at a time; HyperOpt: tpe.suggest, one at a time, no early
stopping; optuna-tpe-mv: Optuna's multivariate TPE with 5 start-up trials;
optuna-gp: Optuna's GPSampler with the same pruning, in a virtual
environment that also has torch and scipy), but every trial's curve comes
from `convrnn_campaign_surrogate --lookup` (the trainer's recorded curves,
nearest neighbour; see surrogate.cc), on an event clock of the recorded
epoch seconds. Writes OUT/<tool>-<seed>.json in
run.py's format, so report.py compares them with the service's surrogate
runs.

  PY=build/bench-campaign-venv/bin/python
  $PY bench/campaign/surrogate_anchors.py --surrogate build-srv/bench/campaign/convrnn_campaign_surrogate \\
      --table DIR[,DIR...] --out OUT --tools optuna,hyperopt --seeds 0-99
"""

import argparse
import heapq
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as run_lib  # noqa: E402
import space as space_lib  # noqa: E402


class Surrogate:
    def __init__(self, binary, campaign_path, table):
        self.proc = subprocess.Popen(
            [binary, "--lookup", "--campaign", campaign_path, "--table", table],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def curve(self, spec):
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())


def record(number, curve, epochs, epoch_seconds, pruned, end_s):
    return {"number": number, "epochs": epochs, "train_seconds": epochs * epoch_seconds,
            "curve": curve[:epochs], "final": None if pruned else curve[epochs - 1],
            "pruned": pruned, "end_s": end_s}


def run_optuna(campaign, seed, trials, surrogate, sampler="tpe"):
    import optuna
    max_epochs = campaign["space"]["train"]["epochs"]
    study = run_lib.optuna_study(campaign, seed, sampler)
    events, out, started = [], [], 0

    def start(clock):
        nonlocal started
        if started >= trials:
            return
        trial = study.ask()
        looked = surrogate.curve(space_lib.suggest(trial, campaign["space"]))
        heapq.heappush(events, (clock + looked["epoch_seconds"], started, trial, looked, 1))
        started += 1

    start(0.0)
    start(0.0)
    while events:
        clock, number, trial, looked, epoch = heapq.heappop(events)
        value = looked["curve"][epoch - 1]
        trial.report(value, epoch)
        pruned = epoch < max_epochs and trial.should_prune()
        if not pruned and epoch < max_epochs:
            heapq.heappush(events, (clock + looked["epoch_seconds"], number, trial, looked,
                                    epoch + 1))
            continue
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
        out.append(record(number, looked["curve"], epoch, looked["epoch_seconds"], pruned, clock))
        start(clock)
    return out


def run_hyperopt(campaign, seed, trials, surrogate):
    epochs = campaign["space"]["train"]["epochs"]
    out, clock = [], [0.0]

    def final_of(spec):
        looked = surrogate.curve(spec)
        clock[0] += epochs * looked["epoch_seconds"]
        out.append(record(len(out), looked["curve"], epochs, looked["epoch_seconds"], False,
                          clock[0]))
        return looked["curve"][-1]

    run_lib.hyperopt_maximize(campaign, seed, trials, final_of)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surrogate", required=True, help="convrnn_campaign_surrogate")
    ap.add_argument("--table", required=True, help="folders of recorded runs, comma-separated")
    ap.add_argument("--out", required=True)
    ap.add_argument("--campaign", default=os.path.join(HERE, "campaign.json"))
    ap.add_argument("--tools", default="optuna,hyperopt")
    ap.add_argument("--seeds", default="0-99")
    ap.add_argument("--trials", type=int, default=64)
    args = ap.parse_args()
    runners = {"optuna": run_optuna, "hyperopt": run_hyperopt,
               "optuna-gp": lambda *a: run_optuna(*a, sampler="gp"),
               "optuna-tpe-mv": lambda *a: run_optuna(*a, sampler="tpe-mv")}
    unknown = [t for t in args.tools.split(",") if t not in runners]
    if unknown:
        raise SystemExit("--tools: unknown tool %s (known: %s)" % (unknown[0], ", ".join(runners)))
    with open(args.campaign) as f:
        campaign = json.load(f)
    surrogate = Surrogate(args.surrogate, args.campaign, args.table)
    os.makedirs(args.out, exist_ok=True)
    for tool in args.tools.split(","):
        for seed in run_lib.parse_seeds(args.seeds):
            path = os.path.join(args.out, "%s-%d.json" % (tool, seed))
            if os.path.exists(path):
                continue
            trials_run = runners[tool](campaign, seed, args.trials, surrogate)
            run = {"tool": tool, "seed": seed, "trials": args.trials,
                   "max_epochs": campaign["space"]["train"]["epochs"],
                   "wall_seconds": max(t["end_s"] for t in trials_run),
                   "trials_run": trials_run, "surrogate": args.table}
            with open(path + ".tmp", "w") as f:
                json.dump(run, f)
            os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
