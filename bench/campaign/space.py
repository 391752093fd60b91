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


def _build(space, draw):
    """Walks `space` once, asking `draw` for each distribution.

    `draw` answers uniform/loguniform/int/categorical(name, ...) and
    branch(name, labels, walk_option), where walk_option(i) walks option i
    of a choice among objects. All-descending feedback becomes one on/off
    categorical per edge, kept as {"src->dst": on} until finish_spec().
    """

    def walk(node, path):
        if is_distribution(node):
            kind, arg = next(iter(node.items()))
            if kind in ("uniform", "loguniform", "int"):
                return getattr(draw, kind)(path, arg[0], arg[1])
            if all(not isinstance(o, (dict, list)) for o in arg):
                return draw.categorical(path, list(arg))
            labels = [option_label(o, i) for i, o in enumerate(arg)]
            return draw.branch(path + ".type" if path.endswith("cell") else path, labels,
                               lambda i: walk(arg[i], "%s[%s]" % (path, labels[i])))
        if isinstance(node, dict):
            return {k: walk(v, "%s.%s" % (path, k) if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, "%s[%d]" % (path, i)) for i, v in enumerate(node)]
        return node

    spec = {k: walk(v, k) for k, v in space.items() if k != "feedback"}
    fb = space.get("feedback", [])
    if isinstance(fb, dict) and fb.get("candidates") == "all_descending":
        fb = {"%d->%d" % (s, d): draw.categorical(edge_name(s, d), [False, True])
              for s, d in descending_edges(space)}
    spec["feedback"] = fb
    return spec


def finish_spec(spec):
    """Feedback drawn per edge as edges; numpy scalars as Python numbers."""
    spec = dict(spec)
    fb = spec.get("feedback", [])
    if isinstance(fb, dict):  # all_descending: "src->dst" -> on
        edges = [(tuple(int(x) for x in k.split("->")), bool(on)) for k, on in fb.items()]
        spec["feedback"] = _edges_to_spec(sorted(edges))
    return _plain(spec)


# --- Optuna: define-by-run -------------------------------------------------


class _OptunaDraw:
    def __init__(self, trial):
        self.trial = trial

    def uniform(self, name, lo, hi):
        return self.trial.suggest_float(name, lo, hi)

    def loguniform(self, name, lo, hi):
        return self.trial.suggest_float(name, lo, hi, log=True)

    def int(self, name, lo, hi):
        return self.trial.suggest_int(name, lo, hi)

    def categorical(self, name, options):
        return self.trial.suggest_categorical(name, options)

    def branch(self, name, labels, walk_option):
        return walk_option(labels.index(self.trial.suggest_categorical(name, labels)))


def suggest(trial, space):
    """A concrete architecture spec, its parameters drawn through `trial`."""
    return finish_spec(_build(space, _OptunaDraw(trial)))


# --- HyperOpt: one expression, sampled into the spec itself -----------------


class _HyperoptDraw:
    def __init__(self):
        from hyperopt import hp
        from hyperopt.pyll import scope
        self.hp, self.scope = hp, scope

    def uniform(self, name, lo, hi):
        return self.hp.uniform(name, lo, hi)

    def loguniform(self, name, lo, hi):
        return self.hp.loguniform(name, math.log(lo), math.log(hi))

    def int(self, name, lo, hi):
        return self.scope.int(self.hp.quniform(name, lo - 0.5, hi + 0.5, 1))

    def categorical(self, name, options):
        return self.hp.choice(name, options)

    def branch(self, name, labels, walk_option):
        return self.hp.choice(name, [walk_option(i) for i in range(len(labels))])


def hyperopt_space(space):
    return _build(space, _HyperoptDraw())


def hyperopt_spec(sample):
    """The concrete spec from a sample of hyperopt_space()."""
    return finish_spec(sample)


def _plain(node):
    """numpy scalars from HyperOpt's samples as Python numbers (JSON)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if hasattr(node, "item"):
        return node.item()
    return node
