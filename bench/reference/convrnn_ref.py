"""The ConvRNN of worker/ (DESIGN.md §3) written in plain PyTorch.

A reference for two purposes:
  * correctness: `check` loads the weights, input and outputs written by
    bench/export_reference.cc and requires the same logits, loss and
    gradients from this independent implementation;
  * speed: `bench` times full training steps (forward, UnrolledLoss,
    backward, sync-free gradient clipping, SGD Nesterov step) exactly as
    worker/train/trainer.cc does them, for bench/run_train_bench.sh;
    `bench --compile reduce-overhead` times the same steps with the forward
    pass and loss under torch.compile(mode="reduce-overhead") (Inductor and
    CUDA graphs; compile time reported apart, in the warm-up).

Everything mirrors worker/model/cells.cc, worker/model/rgc_cell.cc and worker/model/model.cc:
the same layers, cells (same fused gate layout), zero-state shortcuts (a
layer is not computed before its first input; recurrent convs are skipped at
a layer's first step; layer 0's blank input is its conv bias), feedback,
unrolling and loss. Parameter names equal the C++ module's
named_parameters(), so state dicts transfer one to one.

Run with Debian's /usr/bin/python3 (python3-torch 1.13); `bench --device
cuda:0` times the same steps on a GPU (tools/gpu/check.sh).
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # CTest reads 77 as "skipped"
    print("convrnn_ref.py: PyTorch is not installed (Debian python3-torch); skipping")
    sys.exit(77)

CELL_TYPES = ["feedforward", "time_decay", "simple_rnn", "gru", "lstm", "ugrnn",
              "intersection", "rgc"]

# --- the spec (the subset the model needs; spec/arch_spec.cc validates) ---

CELL_DEFAULTS = {
    "feedback_entry": "output", "activation": "relu", "decay_init": 0.0,
    "recurrent_kernel": 3, "forget_bias": 1.0, "cell_channels": 0,
    "tau_kernel": 3, "gate_kernel": 3, "ic_kernel": 3, "io_kernel": 3,
    "tau_separable": False, "gate_separable": False, "ic_separable": False,
    "io_separable": False, "tau_nonlinearity": "sigmoid", "gate_nonlinearity": "sigmoid",
    "tau_offset": 1.0, "tau_multiplier": -1.0, "gate_offset": 1.0, "gate_multiplier": -1.0,
    "tau_bias": 0.0, "gate_bias": 0.0, "out_residual": True, "cell_to_out": False,
    "cell_activation": "elu", "out_activation": "elu", "layer_norm": False,
}


class Spec:
    def __init__(self, j):
        inp = j.get("input", {})
        self.in_channels = inp.get("channels", 1)
        self.in_height = inp.get("height", 28)
        self.in_width = inp.get("width", 28)
        self.num_classes = j.get("num_classes", 10)
        t = j["time"]
        self.steps = t["steps"]
        self.image_off = t.get("image_off", self.steps)
        loss = t.get("loss", "last")
        self.loss_from_step = -1 if loss == "last" else loss["from_step"]
        self.layers = []
        for lj in j["layers"]:
            cell = dict(CELL_DEFAULTS)
            cell.update(lj.get("cell", {}))
            self.layers.append({"channels": lj["channels"], "kernel": lj.get("kernel", 3),
                                "stride": lj.get("stride", 1), "pool": lj.get("pool", False),
                                "cell": cell})
        edges = []
        for e in j.get("feedback", []):
            if e.get("enabled", True):
                edges.append((e["to"], e["from"]))
        self.feedback = [(f, t_) for t_, f in sorted(set(edges))]  # (from, to), sorted by (to, from)
        tj = j.get("train", {})
        self.train = {"lr": tj.get("lr", 0.05), "momentum": tj.get("momentum", 0.9),
                      "nesterov": tj.get("nesterov", True),
                      "weight_decay": tj.get("weight_decay", 5e-4),
                      "clip_grad_norm": tj.get("clip_grad_norm", 0.0),
                      "schedule": tj.get("schedule", "cosine"),
                      "optimizer": tj.get("optimizer", "sgd")}
        if self.train["optimizer"] != "sgd":
            raise ValueError("the reference trains with SGD only")

    def geometry(self):
        """Per layer: in (C, H, W), out (C, H, W), cell channels (ComputeGeometry)."""
        geo = []
        c, h, w = self.in_channels, self.in_height, self.in_width
        for layer in self.layers:
            s = layer["stride"]
            ch, cw = (h - 1) // s + 1, (w - 1) // s + 1
            oh, ow = (ch // 2, cw // 2) if layer["pool"] else (ch, cw)
            cell = layer["cell"]
            cc = cell["cell_channels"] if cell["type"] == "rgc" and cell["cell_channels"] > 0 \
                else layer["channels"]
            geo.append({"in": (c, h, w), "out": (layer["channels"], oh, ow), "cell_channels": cc})
            c, h, w = layer["channels"], oh, ow
        return geo


# --- cells (worker/model/cells.cc, worker/model/rgc_cell.cc) ---------------------------

def activate(name, x):
    return {"relu": torch.relu, "elu": F.elu, "tanh": torch.tanh}[name](x)


def squash(name, x):
    return torch.sigmoid(x) if name == "sigmoid" else torch.tanh(x)


def add_maybe(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def same_conv(cin, cout, k, bias=True, groups=1):
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias, groups=groups)


class State:
    __slots__ = ("h", "c", "y")

    def __init__(self, h=None, c=None, y=None):
        self.h, self.c, self.y = h, c, y


class SpatialConv(nn.Module):
    def __init__(self, cin, cout, k, separable=False, bias=True):
        super().__init__()
        self.has_bias = bias
        if separable and k > 1:
            self.depthwise = same_conv(cin, cin, k, bias=False, groups=cin)
            self.conv = same_conv(cin, cout, 1, bias=bias)
        else:
            self.depthwise = None
            self.conv = same_conv(cin, cout, k, bias=bias)

    def forward(self, x):
        return self.conv(self.depthwise(x)) if self.depthwise is not None else self.conv(x)

    def zero_response(self):
        return self.conv.bias.view(1, -1, 1, 1) if self.has_bias else None


class FeedforwardCell(nn.Module):
    def __init__(self, spec, channels, cell_channels):
        super().__init__()
        self.s = spec

    def step(self, u, cell_fb, out_fb, prev):
        h = activate(self.s["activation"], add_maybe(u, cell_fb))
        return State(h=h, y=add_maybe(h, out_fb))


class TimeDecayCell(nn.Module):
    def __init__(self, spec, channels, cell_channels):
        super().__init__()
        self.s = spec
        self.decay = nn.Parameter(torch.full((1,), float(spec["decay_init"])))

    def step(self, u, cell_fb, out_fb, prev):
        drive = add_maybe(u, cell_fb)
        if prev.h is not None:
            drive = drive + self.decay * prev.h
        h = activate(self.s["activation"], drive)
        return State(h=h, y=add_maybe(h, out_fb))


class SimpleRnnCell(nn.Module):
    def __init__(self, spec, channels, cell_channels):
        super().__init__()
        self.s = spec
        self.w_hh = same_conv(channels, channels, spec["recurrent_kernel"], bias=False)

    def step(self, u, cell_fb, out_fb, prev):
        drive = add_maybe(u, cell_fb)
        if prev.h is not None:
            drive = drive + self.w_hh(prev.h)
        h = activate(self.s["activation"], drive)
        return State(h=h, y=add_maybe(h, out_fb))


class GatedCell(nn.Module):
    """Gates are one conv over [u, h_prev]; with h_prev zero only u's weights act."""

    def __init__(self, spec, channels, gates):
        super().__init__()
        self.s = spec
        self.channels = channels
        self.gates = same_conv(2 * channels, gates * channels, spec["recurrent_kernel"])

    def gate_pre(self, u, h):
        if h is not None:
            return self.gates(torch.cat([u, h], dim=1))
        return F.conv2d(u, self.gates.weight.narrow(1, 0, self.channels), self.gates.bias,
                        padding=self.s["recurrent_kernel"] // 2)


class GruCell(GatedCell):
    def __init__(self, spec, channels, cell_channels):
        super().__init__(spec, channels, 2)
        self.candidate = same_conv(channels, channels, spec["recurrent_kernel"], bias=False)

    def step(self, u, cell_fb, out_fb, prev):
        u = add_maybe(u, cell_fb)
        g = self.gate_pre(u, prev.h).chunk(2, dim=1)
        z = torch.sigmoid(g[0])
        if prev.h is not None:
            r = torch.sigmoid(g[1])
            cand = torch.tanh(u + self.candidate(r * prev.h))
            h = z * prev.h + (1 - z) * cand
        else:
            h = (1 - z) * torch.tanh(u)
        return State(h=h, y=add_maybe(h, out_fb))


class LstmCell(GatedCell):
    def __init__(self, spec, channels, cell_channels):
        super().__init__(spec, channels, 4)

    def step(self, u, cell_fb, out_fb, prev):
        u = add_maybe(u, cell_fb)
        g = self.gate_pre(u, prev.h).chunk(4, dim=1)
        i = torch.sigmoid(g[0])
        o = torch.sigmoid(g[2])
        c = i * torch.tanh(g[3])
        if prev.c is not None:
            c = c + torch.sigmoid(g[1] + self.s["forget_bias"]) * prev.c
        h = o * torch.tanh(c)
        return State(h=h, c=c, y=add_maybe(h, out_fb))


class UgrnnCell(GatedCell):
    def __init__(self, spec, channels, cell_channels):
        super().__init__(spec, channels, 2)

    def step(self, u, cell_fb, out_fb, prev):
        u = add_maybe(u, cell_fb)
        g = self.gate_pre(u, prev.h).chunk(2, dim=1)
        update = torch.sigmoid(g[0] + self.s["forget_bias"])
        h = (1 - update) * torch.tanh(g[1])
        if prev.h is not None:
            h = h + update * prev.h
        return State(h=h, y=add_maybe(h, out_fb))


class IntersectionCell(GatedCell):
    def __init__(self, spec, channels, cell_channels):
        super().__init__(spec, channels, 4)

    def step(self, u, cell_fb, out_fb, prev):
        u = add_maybe(u, cell_fb)
        g = self.gate_pre(u, prev.h).chunk(4, dim=1)
        state_gate = torch.sigmoid(g[0] + self.s["forget_bias"])
        out_gate = torch.sigmoid(g[1])
        h = (1 - state_gate) * torch.tanh(g[2])
        if prev.h is not None:
            h = h + state_gate * prev.h
        y = add_maybe(out_gate * u + (1 - out_gate) * torch.relu(g[3]), out_fb)
        return State(h=h, y=y)


class RgcCell(nn.Module):
    """The Reciprocal Gated Cell: tau reads the state itself, the gate the other state."""

    def __init__(self, s, channels, cell_channels):
        super().__init__()
        self.s = s
        self.input_to_cell = SpatialConv(channels, cell_channels, s["ic_kernel"], s["ic_separable"])
        self.input_to_out = SpatialConv(channels, channels, s["io_kernel"], s["io_separable"])

        def make(cin, cout, k, sep, bias):
            conv = SpatialConv(cin, cout, k, sep)
            with torch.no_grad():
                conv.conv.bias.fill_(bias)
            return conv

        self.w_cc = make(cell_channels, cell_channels, s["tau_kernel"], s["tau_separable"], s["tau_bias"])
        self.w_hh = make(channels, channels, s["tau_kernel"], s["tau_separable"], s["tau_bias"])
        self.w_hc = make(channels, cell_channels, s["gate_kernel"], s["gate_separable"], s["gate_bias"])
        self.w_ch = make(cell_channels, channels, s["gate_kernel"], s["gate_separable"], s["gate_bias"])
        self.cell_to_out = nn.Conv2d(cell_channels, channels, 1, bias=False) if s["cell_to_out"] else None
        if s["layer_norm"]:
            self.norm_c = nn.GroupNorm(1, cell_channels)
            self.norm_h = nn.GroupNorm(1, channels)

    @staticmethod
    def modulation(conv, state, squash_name, offset, multiplier):
        pre = conv(state) if state is not None else conv.zero_response()
        return offset + multiplier * squash(squash_name, pre)

    def step(self, u, cell_fb, out_fb, prev):
        s = self.s
        x_c = add_maybe(self.input_to_cell(u), cell_fb)
        x_h = self.input_to_out(u)
        if s["out_residual"]:
            x_h = x_h + u
        x_h = add_maybe(x_h, out_fb)
        gate, tau = s["gate_nonlinearity"], s["tau_nonlinearity"]
        c_pre = self.modulation(self.w_hc, prev.h, gate, s["gate_offset"], s["gate_multiplier"]) * x_c
        if prev.c is not None:
            c_pre = c_pre + self.modulation(self.w_cc, prev.c, tau, s["tau_offset"],
                                            s["tau_multiplier"]) * prev.c
        h_pre = self.modulation(self.w_ch, prev.c, gate, s["gate_offset"], s["gate_multiplier"]) * x_h
        if prev.h is not None:
            h_pre = h_pre + self.modulation(self.w_hh, prev.h, tau, s["tau_offset"],
                                            s["tau_multiplier"]) * prev.h
        if s["layer_norm"]:
            c_pre = self.norm_c(c_pre)
        c = activate(s["cell_activation"], c_pre)
        if self.cell_to_out is not None:
            h_pre = h_pre + self.cell_to_out(c)
        if s["layer_norm"]:
            h_pre = self.norm_h(h_pre)
        h = activate(s["out_activation"], h_pre)
        return State(h=h, c=c, y=h)


CELLS = {"feedforward": FeedforwardCell, "time_decay": TimeDecayCell, "simple_rnn": SimpleRnnCell,
         "gru": GruCell, "lstm": LstmCell, "ugrnn": UgrnnCell, "intersection": IntersectionCell,
         "rgc": RgcCell}


# --- the unrolled network (worker/model/model.cc) --------------------------------

class ConvRnn(nn.Module):
    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.geo = spec.geometry()
        self.sources = []
        for l, (layer, g) in enumerate(zip(spec.layers, self.geo)):
            cin = g["in"][0]
            cout = layer["channels"]
            k = layer["kernel"]
            setattr(self, f"layer{l}_conv",
                    nn.Conv2d(cin, cout, k, stride=layer["stride"], padding=k // 2))
            cell = layer["cell"]
            setattr(self, f"layer{l}_cell", CELLS[cell["type"]](cell, cout, g["cell_channels"]))
            sources = [f for f, t in spec.feedback if t == l]
            self.sources.append(sources)
            if sources:
                src_channels = sum(self.geo[j]["out"][0] for j in sources)
                entry = {"input": cin, "cell": g["cell_channels"]}.get(cell["feedback_entry"], cout)
                setattr(self, f"layer{l}_feedback", nn.Conv2d(src_channels, entry, 1, bias=False))
        self.readout = nn.Linear(self.geo[-1]["out"][0], spec.num_classes)
        self.convs = [getattr(self, f"layer{l}_conv") for l in range(len(spec.layers))]
        self.cells = [getattr(self, f"layer{l}_cell") for l in range(len(spec.layers))]

    def feedback(self, l, prev):
        sources = self.sources[l]
        if not sources:
            return None
        g = self.geo[l]
        at_input = self.spec.layers[l]["cell"]["feedback_entry"] == "input"
        _, height, width = g["in"] if at_input else g["out"]
        parts = []
        for j in sources:
            if prev[j] is not None:
                s = prev[j]
                if self.geo[j]["out"][1:] != (height, width):
                    s = F.interpolate(s, size=(height, width), mode="bilinear", align_corners=False)
                parts.append(s)
            else:
                parts.append(None)
        like = next((p for p in parts if p is not None), None)
        if like is None:
            return None
        for k, j in enumerate(sources):
            if parts[k] is None:
                parts[k] = like.new_zeros((like.size(0), self.geo[j]["out"][0], height, width))
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return getattr(self, f"layer{l}_feedback")(x)

    def forward(self, images):
        spec = self.spec
        num_layers = len(spec.layers)
        batch = images.size(0)
        prev_out = [None] * num_layers
        prev_state = [State() for _ in range(num_layers)]
        features = []
        zero_features = None
        for t in range(spec.steps):
            last = prev_out[-1]
            if last is not None:
                features.append(last.mean((2, 3)))
            else:
                if zero_features is None:
                    zero_features = images.new_zeros((batch, self.geo[-1]["out"][0]))
                features.append(zero_features)
            out = [None] * num_layers
            state = [State() for _ in range(num_layers)]
            image_on = t < spec.image_off
            for l in range(min(t, num_layers - 1) + 1):
                layer = spec.layers[l]
                entry = layer["cell"]["feedback_entry"]
                fb = self.feedback(l, prev_out)
                x = (images if image_on else None) if l == 0 else prev_out[l - 1]
                if entry == "input":
                    x = add_maybe(x, fb)
                if x is not None:
                    u = self.convs[l](x)
                    if layer["pool"]:
                        u = F.max_pool2d(u, 2)
                else:
                    c, h, w = self.geo[l]["out"]
                    u = self.convs[l].bias.view(1, -1, 1, 1).expand(batch, c, h, w)
                state[l] = self.cells[l].step(u, fb if entry == "cell" else None,
                                              fb if entry == "output" else None, prev_state[l])
                out[l] = state[l].y
            prev_out, prev_state = out, state
        return self.readout(torch.stack(features, dim=0))  # [T, B, K]


def unrolled_loss(logits, labels, spec):
    steps = logits.size(0)
    if spec.loss_from_step < 0:
        return F.cross_entropy(logits[steps - 1], labels)
    tail = logits.narrow(0, spec.loss_from_step, steps - spec.loss_from_step)
    span = tail.size(0)
    return F.cross_entropy(tail.reshape(span * logits.size(1), logits.size(2)), labels.repeat(span))


def clip_grad_norm(params, max_norm):
    """worker/train/trainer.cc ClipGradNorm: no host synchronisation."""
    norms = [p.grad.norm() for p in params if p.grad is not None]
    if not norms:
        return
    scale = (max_norm / (torch.stack(norms).norm() + 1e-6)).clamp_max(1.0)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(scale)


# --- check: the C++ export --------------------------------------------------

def load_raw(directory, entry):
    with open(os.path.join(directory, entry["file"]), "rb") as f:
        data = bytearray(f.read())
    dtype = {"float32": torch.float32, "int64": torch.int64}[entry.get("dtype", "float32")]
    t = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
    return t.reshape(entry["shape"]).clone()


def check(directory, tolerance):
    with open(os.path.join(directory, "index.json")) as f:
        index = json.load(f)
    spec = Spec(index["spec"])
    model = ConvRnn(spec)
    state = {name: load_raw(directory, e) for name, e in index["parameters"].items()}
    own = dict(model.named_parameters())
    if set(own) != set(state):
        print(f"FAIL {index['label']}: parameter names differ: only C++ {sorted(set(state) - set(own))},"
              f" only Python {sorted(set(own) - set(state))}")
        return False
    with torch.no_grad():
        for name, p in own.items():
            if tuple(p.shape) != tuple(state[name].shape):
                print(f"FAIL {index['label']}: {name} shape {tuple(p.shape)} vs {tuple(state[name].shape)}")
                return False
            p.copy_(state[name])
    images = load_raw(directory, index["images"])
    labels = load_raw(directory, index["labels"])
    logits = model(images)
    loss = unrolled_loss(logits, labels, spec)
    loss.backward()
    worst = []
    ok = True

    def compare(what, mine, theirs):
        nonlocal ok
        scale = max(1.0, theirs.abs().max().item()) if theirs.numel() else 1.0
        diff = (mine - theirs).abs().max().item() / scale if theirs.numel() else 0.0
        worst.append((diff, what))
        if not diff <= tolerance:  # also catches NaN
            ok = False
            print(f"FAIL {index['label']}: {what} differs by {diff:.3g} (relative to max |x| >= 1)")

    compare("logits", logits.detach(), load_raw(directory, index["logits"]))
    compare("loss", loss.detach().reshape(1), load_raw(directory, index["loss"]).reshape(1))
    for name, e in index["gradients"].items():
        g = own[name].grad
        compare(f"grad {name}", torch.zeros_like(own[name]) if g is None else g, load_raw(directory, e))
    worst.sort(reverse=True)
    print(f"{'ok  ' if ok else 'FAIL'} {index['label']}: {len(own)} parameters, "
          f"max difference {worst[0][0]:.2e} ({worst[0][1]})")
    return ok


# --- bench: training throughput ---------------------------------------------

def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench(args):
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    with open(args.spec) as f:
        j = json.load(f)
    if args.cell:
        for layer in j["layers"]:
            layer["cell"] = {"type": args.cell}
    spec = Spec(j)
    torch.manual_seed(0)
    model = ConvRnn(spec).to(device)
    if args.channels_last and cuda:  # as the trainer: 4-d parameters and images channels-last; CUDA only
        model = model.to(memory_format=torch.channels_last)
    model.train()
    params = list(model.parameters())
    t = spec.train
    autocast = cuda and args.precision == "bf16"
    opt = torch.optim.SGD(params, lr=t["lr"], momentum=t["momentum"],
                          nesterov=t["nesterov"] and t["momentum"] > 0,
                          weight_decay=t["weight_decay"])
    # Synthetic data as the C++ bench feeds the trainer: uint8 images
    # normalised per batch, a few distinct batches cycled.
    gen = torch.Generator().manual_seed(1)
    shape = (args.batch, spec.in_channels, spec.in_height, spec.in_width)
    raw = [torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen) for _ in range(4)]
    labels = [torch.randint(0, spec.num_classes, (args.batch,), generator=gen) for _ in range(4)]
    total = args.warmup + args.steps

    def forward_loss(images, step_labels):
        if autocast:
            with torch.autocast("cuda", dtype=torch.bfloat16):
                logits = model(images)
            logits = logits.float()
        else:
            logits = model(images)
        return unrolled_loss(logits, step_labels, spec)

    if args.compile:
        forward_loss = torch.compile(forward_loss, mode=args.compile)
    check_every = 25 if cuda else 1  # the trainer reads the loss back every 25 steps on CUDA

    def one_step(i):
        lr = t["lr"] * 0.5 * (1.0 + math.cos(math.pi * i / total)) if t["schedule"] == "cosine" else t["lr"]
        for group in opt.param_groups:
            group["lr"] = lr
        images = ((raw[i % 4].float() / 255.0 - 0.5) / 0.25).to(device, non_blocking=cuda)
        if args.channels_last and cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        opt.zero_grad()
        if args.compile and cuda:
            torch.compiler.cudagraph_mark_step_begin()
        loss = forward_loss(images, labels[i % 4].to(device, non_blocking=cuda))
        loss.backward()
        if t["clip_grad_norm"] > 0:
            clip_grad_norm(params, t["clip_grad_norm"])
        opt.step()
        if (i + 1) % check_every == 0:  # the trainer checks every CPU step for NaN/Inf
            if not math.isfinite(loss.item()):
                raise RuntimeError("non-finite loss")

    def sync():  # the C++ bench's epoch ends read the loss back: a synchronisation
        if cuda:
            torch.cuda.synchronize(device)

    c0 = time.perf_counter()
    for i in range(args.warmup):
        one_step(i)
    sync()
    warmup_seconds = time.perf_counter() - c0
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    w0 = time.perf_counter()
    for i in range(args.warmup, total):
        one_step(i)
    sync()
    wall = time.perf_counter() - w0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"impl": "pytorch-compile" if args.compile else "pytorch",
                      "compile": args.compile or "", "warmup_seconds": warmup_seconds,
                      "cell": args.cell or "spec", "batch": args.batch,
                      "threads": torch.get_num_threads(), "device": args.device,
                      "precision": args.precision, "channels_last": args.channels_last,
                      "steps": args.steps,
                      "images_per_sec": args.steps * args.batch / wall,
                      "step_ms": 1000.0 * wall / args.steps, "cpu_per_wall": cpu / wall,
                      "peak_rss_mib": peak_rss_mib(),
                      "params": sum(p.numel() for p in params)}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="compare with bench/export_reference.cc output directories")
    c.add_argument("dirs", nargs="*", help="directories written by convrnn_export_reference")
    c.add_argument("--exporter", help="run this convrnn_export_reference --cases first")
    c.add_argument("--work", default="reference_check", help="where --exporter writes")
    c.add_argument("--tolerance", type=float, default=1e-4)
    b = sub.add_parser("bench", help="time training steps (one JSON line)")
    b.add_argument("--spec", required=True)
    b.add_argument("--cell", default="", help="replace every layer's cell by this type")
    b.add_argument("--batch", type=int, default=64)
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--warmup", type=int, default=2)
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--device", default="cpu", help="cpu or cuda:N")
    b.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="bf16: autocast around the forward pass (CUDA only)")
    b.add_argument("--channels-last", action="store_true", help="channels-last memory format (CUDA only)")
    b.add_argument("--compile", default="", choices=["", "default", "reduce-overhead", "max-autotune"],
                   help="torch.compile the forward pass and loss with this mode (torch 2.x)")
    args = parser.parse_args()
    if args.command == "check":
        torch.set_num_threads(1)
        dirs = list(args.dirs)
        if args.exporter:
            out = subprocess.run([args.exporter, "--cases", "--out", args.work], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout
            dirs += [line.strip().strip('"') for line in out.splitlines() if line.strip()]
        if not dirs:
            parser.error("give export directories or --exporter")
        results = [check(d, args.tolerance) for d in dirs]
        print(f"{sum(results)} of {len(results)} cases match")
        sys.exit(0 if all(results) else 1)
    bench(args)


if __name__ == "__main__":
    main()
