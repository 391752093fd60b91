#!/usr/bin/python3
"""Convert NumPy arrays to the neural-recording HDF5 layout (docs/neural-data.md).

Usage:
  tools/npz_to_neural_h5.py IN.npz OUT.h5
  tools/npz_to_neural_h5.py --stimuli S.npy --responses R.npy --regions V4,V4,IT,... \
      --bin-start-ms 70,80,... OUT.h5

IN.npz holds arrays named `stimuli` (N x C x H x W or N x H x W, uint8 or
float in [0, 1]; N x H x W x 3 is transposed to N x 3 x H x W), `responses`
(R x N x S x B, NaN = missing repetition), `regions` (S strings) and
`bin_start_ms` (B numbers); optional `bin_width_ms` (scalar, default 10).
The file is checked as the worker will check it, so errors show here first.
Needs python3-numpy and python3-h5py (Debian).
"""
import argparse
import sys

import h5py
import numpy as np


def fail(message):
    sys.exit(f"npz_to_neural_h5: {message}")


def check(stimuli, responses, regions, bins):
    if stimuli.ndim == 4 and stimuli.shape[-1] in (1, 3) and stimuli.shape[1] not in (1, 3):
        stimuli = stimuli.transpose(0, 3, 1, 2)  # N x H x W x C -> N x C x H x W
    if stimuli.ndim not in (3, 4):
        fail(f"stimuli: expected N x C x H x W or N x H x W, got shape {stimuli.shape}")
    if stimuli.dtype != np.uint8:
        stimuli = stimuli.astype(np.float32)
        if not np.isfinite(stimuli).all():
            fail("stimuli: contains NaN or Inf")
        if stimuli.min() < 0 or stimuli.max() > 1:
            fail("stimuli: float stimuli must be on the [0, 1] scale (or pass uint8 pixels)")
    responses = np.asarray(responses, dtype=np.float32)
    if responses.ndim != 4:
        fail(f"responses: expected R x N x S x B, got shape {responses.shape}")
    if responses.shape[1] != stimuli.shape[0]:
        fail(f"responses: has {responses.shape[1]} images but stimuli has {stimuli.shape[0]}")
    if len(regions) != responses.shape[2]:
        fail(f"regions: expected {responses.shape[2]} names (one per site), got {len(regions)}")
    if any(not r for r in regions):
        fail("regions: empty region name")
    bins = np.asarray(bins, dtype=np.float64)
    if bins.shape != (responses.shape[3],):
        fail(f"bin_start_ms: expected {responses.shape[3]} values (one per bin), got shape {bins.shape}")
    if np.any(np.diff(bins) <= 0):
        fail("bin_start_ms: not increasing")
    if np.isinf(responses).any():
        fail("responses: contains Inf")
    if np.isnan(responses).all():
        fail("responses: every value is NaN")
    return stimuli, responses, bins


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("npz", nargs="?", help="an .npz with stimuli, responses, regions, bin_start_ms")
    p.add_argument("out", help="HDF5 file to write")
    p.add_argument("--stimuli", help=".npy stimuli (instead of IN.npz)")
    p.add_argument("--responses", help=".npy responses (instead of IN.npz)")
    p.add_argument("--regions", help="comma-separated region per site")
    p.add_argument("--bin-start-ms", help="comma-separated bin starts")
    p.add_argument("--bin-width-ms", type=float, default=None)
    a = p.parse_args()
    if a.npz:
        z = np.load(a.npz, allow_pickle=False)
        missing = [k for k in ("stimuli", "responses", "regions", "bin_start_ms") if k not in z]
        if missing:
            fail(f"{a.npz}: missing arrays {missing}")
        stimuli, responses = z["stimuli"], z["responses"]
        regions = [str(r) for r in z["regions"]]
        bins = z["bin_start_ms"]
        width = float(z["bin_width_ms"]) if "bin_width_ms" in z else 10.0
    else:
        if not (a.stimuli and a.responses and a.regions and a.bin_start_ms):
            fail("give IN.npz, or all of --stimuli --responses --regions --bin-start-ms")
        stimuli, responses = np.load(a.stimuli), np.load(a.responses)
        regions = a.regions.split(",")
        bins = [float(b) for b in a.bin_start_ms.split(",")]
        width = 10.0
    if a.bin_width_ms is not None:
        width = a.bin_width_ms
    stimuli, responses, bins = check(stimuli, responses, regions, bins)
    with h5py.File(a.out, "w") as f:
        f.create_dataset("stimuli", data=stimuli)
        f.create_dataset("responses", data=responses)
        f.create_dataset("sites/region", data=np.array(regions, dtype=object), dtype=h5py.string_dtype())
        f.create_dataset("bins/start_ms", data=bins)
        f.attrs["bin_width_ms"] = width
    print(f"wrote {a.out}: {stimuli.shape[0]} images, {responses.shape[2]} sites, "
          f"{responses.shape[3]} bins, {responses.shape[0]} reps")


if __name__ == "__main__":
    main()
