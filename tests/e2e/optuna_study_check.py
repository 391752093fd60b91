"""Opens a study written by `convrnn export --format optuna` with Optuna and
draws its plots; prints what it found as JSON (tests/e2e/export_e2e_test.cc).

usage: optuna_study_check.py sqlite:///FILE STUDY_NAME
Runs under Debian's python3-optuna (3.1) and, in a virtual environment, under
the current Optuna (after `optuna storage upgrade`).
"""
import json
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def main():
    storage, name = sys.argv[1], sys.argv[2]
    study = optuna.load_study(study_name=name, storage=storage)
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    multi = len(study.directions) > 1
    # Multi-objective studies plot one objective at a time: the first.
    target = (lambda t: t.values[0]) if multi else None
    history = optuna.visualization.plot_optimization_history(study, target=target)
    importances = optuna.visualization.plot_param_importances(study, target=target)
    curves = optuna.visualization.plot_intermediate_values(study)
    best = study.best_trials[0] if multi else study.best_trial
    out = {
        "optuna": optuna.__version__,
        "directions": [d.name for d in study.directions],
        "trials": len(trials),
        "states": {s: sum(1 for t in trials if t.state.name == s)
                   for s in {t.state.name for t in trials}},
        "best_value": best.values[0],
        "best_number": best.number,
        "best_params": best.params,
        "intermediate_points": sum(len(t.intermediate_values) for t in trials),
        "history_points": sum(len(d.y) for d in history.data if d.y is not None),
        "importance_params": list(importances.data[0].y) if importances.data else [],
        "curves": len(curves.data),
        "complete_values": sorted(t.values[0] for t in complete),
        "user_attrs": sorted(study.user_attrs),
        "trial_attrs": sorted(trials[0].user_attrs),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
