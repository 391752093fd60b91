#!/usr/bin/env python3
"""Product-level search benchmark: the service against Optuna and HyperOpt.

Each tool searches the same space (campaign.json's, read by space.py) on the
same data with the same trainer, `convrnn-worker`:

- ours:     convrnn-server + two `convrnn-worker --server` processes, the
            campaign's own search (TPE + ASHA);
- optuna:   Optuna's TPESampler + SuccessiveHalvingPruner (the campaign's
            ASHA reduction factor and min resource: 2 and 1 epoch in
            campaign.json), two trials at a time (n_jobs=2), each trial one
            `convrnn-worker --spec` run, stopped when pruned;
- hyperopt: HyperOpt's TPE (the original study's tool), one trial at a time,
            no early stopping (HyperOpt has none per trial).

One run = one tool, one seed, --trials trials. Every run writes OUT/<tool>-
<seed>.json: per trial its number, the epochs it trained, the trainer's
training seconds (the sum of its epochs' wall_seconds), its final validation
top-1 when it trained to the end, and when it finished. A run whose file
exists is not run again, so an interrupted benchmark resumes. report.py turns
the files into the tables in docs/performance.md.

Trainers run with one intra-op thread each; --cores says how many run at
once in all (ours and optuna use two, hyperopt one, so two hyperopt seeds run
side by side).
"""

import argparse
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import space as space_lib  # noqa: E402


class Recorder:
    """Trial records of one run, from any thread."""

    def __init__(self):
        self.start = time.monotonic()
        self.lock = threading.Lock()
        self.trials = []

    def add(self, number, result):
        with self.lock:
            self.trials.append(dict(result, number=number,
                                    end_s=round(time.monotonic() - self.start, 3)))


def train(worker, spec, data_path, workdir, number, on_epoch=None):
    """Runs `convrnn-worker --spec`; on_epoch(epoch, val_top1) -> True stops it."""
    spec = dict(spec, name="trial-%d" % number)
    spec_path = os.path.join(workdir, "spec-%d.json" % number)
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    cmd = [worker, "--spec", spec_path, "--data", data_path, "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    epochs, seconds, final, stopped, curve = 0, 0.0, None, False, []
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("event") == "epoch":
            epochs = event["epoch"]
            seconds += event["wall_seconds"]
            curve.append(event["val_top1"])
            if on_epoch is not None and on_epoch(epochs, event["val_top1"]):
                stopped = True
                proc.kill()
                break
        elif event.get("event") == "final":
            final = event["val_top1"]
    err = proc.stderr.read()
    rc = proc.wait()
    os.unlink(spec_path)
    if not stopped and (rc != 0 or final is None):
        raise RuntimeError("trainer failed (rc %d): %s" % (rc, err.strip()[-500:]))
    return {"epochs": epochs, "train_seconds": round(seconds, 4), "curve": curve,
            "final": None if stopped else final, "pruned": stopped, "spec": searched(spec)}


def searched(spec):
    """The parts of a spec the space searches: cells, widths, feedback, lr."""
    return {"layers": [{"channels": l["channels"], "cell": l["cell"]} for l in spec["layers"]],
            "feedback": spec.get("feedback", []), "lr": spec["train"]["lr"]}


def optuna_study(campaign, seed, sampler="tpe"):
    """The Optuna anchor: TPESampler(seed) with its defaults and successive
    halving with the campaign's ASHA reduction factor and first rung, which
    it must name (bench/campaign/campaign.json: 2, epoch 1; as our ASHA, no
    pruning for a campaign without early stopping), maximising. For the surrogate's
    comparisons, sampler "tpe-mv": TPESampler(seed, multivariate, group, 5
    start-up trials); "gp": GPSampler(seed, 5 start-up trials), which needs
    torch and scipy (requirements.txt leaves them out)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    stopping = campaign["search"].get("early_stopping")
    if stopping is None:
        pruner = optuna.pruners.NopPruner()
    else:
        # Named, not defaulted: a copy of search/early_stopping.h's defaults
        # here would drift from the service's.
        missing = [k for k in ("min_resource", "reduction_factor") if k not in stopping]
        if stopping.get("rule", "asha") != "asha" or missing:
            raise SystemExit("the Optuna anchor prunes with successive halving: "
                             "search.early_stopping needs rule asha (or none) and names "
                             "min_resource and reduction_factor (missing: %s)"
                             % (", ".join(missing) or "-"))
        pruner = optuna.pruners.SuccessiveHalvingPruner(
            min_resource=stopping["min_resource"],
            reduction_factor=stopping["reduction_factor"])
    if sampler == "gp":
        chosen = optuna.samplers.GPSampler(seed=seed, n_startup_trials=5,
                                           warn_independent_sampling=False)
    elif sampler == "tpe-mv":
        import warnings
        with warnings.catch_warnings():  # multivariate and group are "experimental"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            chosen = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=True,
                                                n_startup_trials=5)
    else:
        chosen = optuna.samplers.TPESampler(seed=seed)
    return optuna.create_study(direction="maximize", sampler=chosen, pruner=pruner)


def hyperopt_maximize(campaign, seed, trials, final_of):
    """The HyperOpt anchor: tpe.suggest over the campaign's space, one trial at
    a time; final_of(spec) trains a spec and returns its final value."""
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, tpe

    def objective(sample):
        return {"loss": -final_of(space_lib.hyperopt_spec(sample)), "status": STATUS_OK}

    fmin(objective, space_lib.hyperopt_space(campaign["space"]), algo=tpe.suggest,
         max_evals=trials, trials=Trials(), rstate=np.random.default_rng(seed),
         show_progressbar=False)


def run_optuna(campaign, seed, trials, ctx):
    import optuna
    rec = Recorder()
    max_epochs = campaign["space"]["train"]["epochs"]
    study = optuna_study(campaign, seed)

    def objective(trial):
        spec = space_lib.suggest(trial, campaign["space"])

        def on_epoch(epoch, value):
            trial.report(value, epoch)
            return epoch < max_epochs and trial.should_prune()

        result = train(ctx["worker"], spec, ctx["data"], ctx["tmp"], trial.number, on_epoch)
        rec.add(trial.number, result)
        if result["pruned"]:
            raise optuna.TrialPruned()
        return result["final"]

    study.optimize(objective, n_trials=trials, n_jobs=2)
    return rec


def run_hyperopt(campaign, seed, trials, ctx):
    rec = Recorder()

    def final_of(spec):
        number = len(rec.trials)
        result = train(ctx["worker"], spec, ctx["data"], ctx["tmp"], number)
        rec.add(number, result)
        return result["final"]

    hyperopt_maximize(campaign, seed, trials, final_of)
    return rec


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ours(campaign, seed, trials, ctx):
    build = ctx["build"]
    server = os.path.join(build, "server", "convrnn-server")
    worker = ctx["worker"]
    client = os.path.join(build, "client", "convrnn")
    campaign = copy.deepcopy(campaign)
    campaign["search"]["seed"] = seed
    campaign["search"]["max_trials"] = trials
    path = os.path.join(ctx["tmp"], "campaign.json")
    with open(path, "w") as f:
        json.dump(campaign, f)
    address = "127.0.0.1:%d" % free_port()
    log = open(os.path.join(ctx["tmp"], "service.log"), "w")
    procs = [subprocess.Popen([server, "--db", os.path.join(ctx["tmp"], "campaigns.db"),
                               "--listen", address], stdout=log, stderr=log)]
    try:
        for _ in range(100):
            if subprocess.run([client, "--server", address, "campaigns"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        rec = Recorder()
        out = subprocess.run([client, "--server", address, "--json", "launch", path],
                             capture_output=True, text=True, check=True)
        cid = json.loads(out.stdout)["id"]
        for _ in range(2):
            procs.append(subprocess.Popen([worker, "--server", address, "--devices", "cpu",
                                           "--threads", "1", "--spool-dir", "none"],
                                          stdout=log, stderr=log))
        subprocess.run([client, "--server", address, "watch", str(cid)],
                       stdout=subprocess.DEVNULL, check=True)
        out = subprocess.run([client, "--server", address, "export", str(cid), "--format",
                              "jsonl"], capture_output=True, text=True, check=True)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
    launched = None
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    for row in rows:
        created = row["created_unix_us"] / 1e6
        launched = created if launched is None else min(launched, created)
    for row in rows:
        epochs = [e for e in row["epochs"] if e["attempt"] == row["attempt"]]
        pruned = row["failure_reason"].startswith("pruned")
        final = row["final_metrics"].get("val_top1") if not pruned else None
        end = max([e["reported_unix_us"] / 1e6 for e in epochs] or [launched])
        rec.trials.append({
            "number": row["number"] - 1, "epochs": len(epochs),
            "train_seconds": round(sum(e["metrics"]["wall_s"] for e in epochs), 4),
            "curve": [e["metrics"]["val_top1"] for e in epochs],
            "final": final, "pruned": pruned, "end_s": round(end - launched, 3),
            "spec": searched(row["spec"])})
    return rec


TOOLS = {"ours": (run_ours, 2), "optuna": (run_optuna, 2), "hyperopt": (run_hyperopt, 1)}


def parse_seeds(text):
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def overlay(base, patch):
    """base with patch laid over it: objects merged key by key, anything else
    replaced (so --set '{"search": {"early_stopping": {"reduction_factor": 4}}}'
    keeps the rule and rungs). Neither argument is changed."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--campaign", default=os.path.join(HERE, "campaign.json"))
    ap.add_argument("--set", default="",
                    help="a JSON object laid over the campaign, e.g. "
                         "'{\"search\": {\"algorithm\": \"gp\"}}'")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tools", default="ours,optuna,hyperopt")
    ap.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5-7")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--cores", type=int, default=2)
    args = ap.parse_args()
    with open(args.campaign) as f:
        campaign = json.load(f)
    if args.set:
        try:
            patch = json.loads(args.set)
        except ValueError as e:
            sys.exit("--set: not JSON: %s" % e)
        if not isinstance(patch, dict):
            sys.exit("--set: must be a JSON object, e.g. '{\"search\": {\"algorithm\": \"gp\"}}'")
        campaign = overlay(campaign, patch)
    os.makedirs(args.out, exist_ok=True)
    worker = os.path.abspath(os.path.join(args.build, "worker", "convrnn-worker"))
    tools = args.tools.split(",")
    for tool in tools:
        if tool not in TOOLS:
            sys.exit("unknown tool %r (ours, optuna, hyperopt)" % tool)
    jobs = [(tool, seed) for seed in parse_seeds(args.seeds) for tool in tools
            if not os.path.exists(os.path.join(args.out, "%s-%d.json" % (tool, seed)))]
    free = [args.cores]
    cond = threading.Condition()
    errors = []

    def run_job(tool, seed, cores):
        try:
            with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
                data = os.path.join(tmp, "data.json")
                with open(data, "w") as f:
                    json.dump(campaign["data"], f)
                ctx = {"build": os.path.abspath(args.build), "worker": worker, "data": data,
                       "tmp": tmp}
                t0 = time.monotonic()
                rec = TOOLS[tool][0](campaign, seed, args.trials, ctx)
                wall = time.monotonic() - t0
            result = {"tool": tool, "seed": seed, "trials": args.trials,
                      "max_epochs": campaign["space"]["train"]["epochs"],
                      "wall_seconds": round(wall, 1),
                      "trials_run": sorted(rec.trials, key=lambda t: t["number"])}
            path = os.path.join(args.out, "%s-%d.json" % (tool, seed))
            with open(path + ".tmp", "w") as f:
                json.dump(result, f)
            os.replace(path + ".tmp", path)
            best = max([t["final"] for t in rec.trials if t["final"] is not None] or [0])
            print("%s seed %d: %d trials, best %.4f, %.0f s" %
                  (tool, seed, len(rec.trials), best, wall), flush=True)
        except Exception as e:  # noqa: BLE001 - reported, the other jobs go on
            errors.append("%s seed %d: %s" % (tool, seed, e))
            print(errors[-1], file=sys.stderr, flush=True)
        finally:
            with cond:
                free[0] += cores
                cond.notify_all()

    # The first waiting job that fits the free cores starts (so two one-core
    # hyperopt runs share the machine rather than one leaving a core idle).
    threads = []
    while jobs:
        with cond:
            cond.wait_for(lambda: any(min(TOOLS[t][1], args.cores) <= free[0] for t, _ in jobs))
            tool, seed = next(j for j in jobs if min(TOOLS[j[0]][1], args.cores) <= free[0])
            jobs.remove((tool, seed))
            cores = min(TOOLS[tool][1], args.cores)
            free[0] -= cores
        t = threading.Thread(target=run_job, args=(tool, seed, cores))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    if errors:
        sys.exit("%d runs failed" % len(errors))


if __name__ == "__main__":
    main()
