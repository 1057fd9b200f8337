"""How well does the label-free cluster-radius estimate do, and which start is best?

The zero-shot model needs one length, the cluster RMS radius R of a FOV. It used to
estimate it as a fixed point of the network (``sklearn_miro.pretrained.estimate_cluster_radius``,
now the fallback) and now uses the pair-correlation function. This script measures both
on simulated FOVs of the pretrained model's own
training family (``train_pretrained.sample_settings``, a seed the calibration never
used; never the benchmark), with and without blinking, for several starting points of
the fixed-point iteration:

* ``s``: the FOV's mean localisation spacing (the fixed point's default start);
* ``2s``: a larger start;
* ``max(s, 4s)``: both starts, the larger fixed point kept;
* ``pcf``: no network at all, the radius of the Gaussian fit of the pair-correlation
  function (``sklearn_miro.parameters.pair_correlation_radius``, the zero-shot default); the
  FOVs where it finds no clustering (nan, where the fixed point is used) are counted.

Reports the median absolute relative error and the median signed log-ratio
(estimate / truth) per start, split by blinking.

    OMP_NUM_THREADS=1 python benchmarks/radius_estimate.py --n-fovs 60
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_pretrained import full_size_fovs  # noqa: E402

from sklearn_miro.parameters import pair_correlation_radius  # noqa: E402
from sklearn_miro.pretrained import estimate_cluster_radius, fov_spacing, load_pretrained  # noqa: E402

STARTS = {"s": (1.0,), "2s": (2.0,), "max(s, 4s)": (1.0, 4.0)}


def simulated_fovs(n_fovs, seed):
    """(X, true radius, blinking) of ``n_fovs`` full-size simulated FOVs with clusters."""
    return [(X, radius, settings["blinking"] is not None)
            for X, _, radius, settings in full_size_fovs(n_fovs, np.random.default_rng(seed))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-fovs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=31_337)
    parser.add_argument("--model", default="nanoclusters")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    network, card = load_pretrained(args.model)
    rule = card["dbscan"]
    fovs = simulated_fovs(args.n_fovs, args.seed)
    rows = []
    cpu = time.process_time()
    for X, truth, blinking in fovs:
        s = float(fov_spacing(X)[0])
        row = dict(truth=truth, blinking=blinking, n=X.shape[0])
        for name, factors in STARTS.items():
            estimates = [
                estimate_cluster_radius(network, X, int(card["n_steps"]), float(rule["eps_in_radii"]),
                                        int(rule["min_samples"]), spacing=s, initial=f * s,
                                        correction=float(rule.get("radius_correction", 1.0)))[0]
                for f in factors
            ]
            row[name] = max(estimates)
        row["pcf"] = pair_correlation_radius(X, spacing=s)
        rows.append(row)
    lines = [
        "# Label-free cluster-radius estimate on simulated FOVs (`benchmarks/radius_estimate.py`)",
        "",
        f"Command: `python {' '.join(sys.argv)}`; model `{args.model}`; {len(rows)} FOVs of the "
        f"training family (seed {args.seed}); CPU {time.process_time() - cpu:.0f} s.",
        "",
        "| start | FOVs | median abs. rel. error | median log2(estimate / truth) | within x/1.5 | nan |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in [*STARTS, "pcf"]:
        for label, keep in (("no blinking", False), ("blinking", True), ("all", None)):
            sel = [r for r in rows if keep is None or r["blinking"] == keep]
            ratio = np.array([r[name] / r["truth"] for r in sel])
            n_nan = int(np.sum(~np.isfinite(ratio)))
            ratio = ratio[np.isfinite(ratio)]
            lines.append(
                f"| {name} | {label} ({len(sel)}) | {np.median(np.abs(ratio - 1)):.2f} "
                f"| {np.median(np.log2(ratio)):+.2f} | {np.mean(np.abs(np.log(ratio)) < np.log(1.5)):.2f} "
                f"| {n_nan} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        Path(args.output).write_text(text)


if __name__ == "__main__":
    main()
