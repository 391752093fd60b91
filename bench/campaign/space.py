"""A campaign's search space (DESIGN.md "Campaign"), read by the anchors.

The same `space` object the service searches is turned into Optuna's
define-by-run calls and into a HyperOpt expression, so every tool searches the
same parameters with the same names and builds the same concrete spec for
`convrnn-worker --spec`:

- `{"choice": [...]}` among scalars is a categorical; among objects it picks
  one (named by its "type") and nests that object's own distributions, so the
  space is conditional as in the service;
- `{"uniform": [lo, hi]}`, `{"loguniform": [lo, hi]}`, `{"int": [lo, hi]}`;
- `"feedback": {"candidates": "all_descending"}` is one on/off parameter per
  edge from a later layer to an earlier one.
"""

import math

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")


def is_distribution(node):
    return isinstance(node, dict) and len(node) == 1 and next(iter(node)) in DISTRIBUTIONS


def option_label(option, index):
    if isinstance(option, dict) and isinstance(option.get("type"), str):
        return option["type"]
    return str(index)


def descending_edges(space):
    n = len(space["layers"])
    return [(src, dst) for src in range(n) for dst in range(src)]


def edge_name(src, dst):
    return "feedback[%d->%d].enabled" % (src, dst)


def _edges_to_spec(enabled):
    return [{"from": src, "to": dst} for (src, dst), on in enabled if on]


# --- Optuna: define-by-run -------------------------------------------------


def suggest(trial, space):
    """A concrete architecture spec, its parameters drawn through `trial`."""

    def walk(node, path):
        if is_distribution(node):
            kind, arg = next(iter(node.items()))
            if kind == "uniform":
                return trial.suggest_float(path, arg[0], arg[1])
            if kind == "loguniform":
                return trial.suggest_float(path, arg[0], arg[1], log=True)
            if kind == "int":
                return trial.suggest_int(path, arg[0], arg[1])
            if all(not isinstance(o, (dict, list)) for o in arg):
                return trial.suggest_categorical(path, list(arg))
            labels = [option_label(o, i) for i, o in enumerate(arg)]
            label = trial.suggest_categorical(path + ".type" if path.endswith("cell") else path,
                                              labels)
            chosen = arg[labels.index(label)]
            return walk(chosen, "%s[%s]" % (path, label))
        if isinstance(node, dict):
            return {k: walk(v, "%s.%s" % (path, k) if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, "%s[%d]" % (path, i)) for i, v in enumerate(node)]
        return node

    spec = {k: walk(v, k) for k, v in space.items() if k != "feedback"}
    spec["feedback"] = feedback_suggest(trial, space)
    return spec


def feedback_suggest(trial, space):
    fb = space.get("feedback", [])
    if isinstance(fb, dict) and fb.get("candidates") == "all_descending":
        return _edges_to_spec([((s, d), trial.suggest_categorical(edge_name(s, d), [False, True]))
                               for s, d in descending_edges(space)])
    return fb


# --- HyperOpt: one expression, sampled into the spec itself -----------------


def hyperopt_space(space):
    from hyperopt import hp
    from hyperopt.pyll import scope

    def walk(node, path):
        if is_distribution(node):
            kind, arg = next(iter(node.items()))
            if kind == "uniform":
                return hp.uniform(path, arg[0], arg[1])
            if kind == "loguniform":
                return hp.loguniform(path, math.log(arg[0]), math.log(arg[1]))
            if kind == "int":
                return scope.int(hp.quniform(path, arg[0] - 0.5, arg[1] + 0.5, 1))
            if all(not isinstance(o, (dict, list)) for o in arg):
                return hp.choice(path, list(arg))
            labels = [option_label(o, i) for i, o in enumerate(arg)]
            return hp.choice(path + ".type" if path.endswith("cell") else path,
                             [walk(o, "%s[%s]" % (path, label)) for o, label in zip(arg, labels)])
        if isinstance(node, dict):
            return {k: walk(v, "%s.%s" % (path, k) if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, "%s[%d]" % (path, i)) for i, v in enumerate(node)]
        return node

    expr = {k: walk(v, k) for k, v in space.items() if k != "feedback"}
    fb = space.get("feedback", [])
    if isinstance(fb, dict) and fb.get("candidates") == "all_descending":
        expr["feedback"] = {"%d->%d" % (s, d): hp.choice(edge_name(s, d), [False, True])
                            for s, d in descending_edges(space)}
    else:
        expr["feedback"] = fb
    return expr


def hyperopt_spec(sample):
    """The concrete spec from a sample of hyperopt_space()."""
    spec = dict(sample)
    fb = spec.get("feedback", [])
    if isinstance(fb, dict):  # all_descending: "src->dst" -> on
        edges = [(tuple(int(x) for x in k.split("->")), bool(on)) for k, on in fb.items()]
        spec["feedback"] = _edges_to_spec(sorted(edges))
    return _plain(spec)


def _plain(node):
    """numpy scalars from HyperOpt's samples as Python numbers (JSON)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if hasattr(node, "item"):
        return node.item()
    return node
