"""Optuna 3.1's fANOVA importances of trials given as JSON (the anchor of
tests/search/importance_test.cc).

Input (argv[1]): {"params": {name: {"kind": "categorical", "labels": [...]} |
                                   {"kind": "float"|"int", "lo": x, "hi": y}},
                  "trials": [{"params": {name: value}, "value": v}, ...]}
Output (stdout): {name: importance} from
optuna.importance.get_param_importances (FanovaImportanceEvaluator, seed 0).
"""
import json
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def distribution(spec):
    if spec["kind"] == "categorical":
        return optuna.distributions.CategoricalDistribution(spec["labels"])
    if spec["kind"] == "int":
        return optuna.distributions.IntDistribution(int(spec["lo"]), int(spec["hi"]))
    return optuna.distributions.FloatDistribution(spec["lo"], spec["hi"])


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    dists = {name: distribution(spec) for name, spec in doc["params"].items()}
    study = optuna.create_study()
    for t in doc["trials"]:
        params = {k: v for k, v in t["params"].items() if k in dists}
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={k: dists[k] for k in params},
                value=t["value"],
            )
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    json.dump(dict(importances), sys.stdout)


if __name__ == "__main__":
    main()
