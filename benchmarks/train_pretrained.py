"""Train the pretrained MIRO network shipped in ``sklearn_miro/pretrained/``.

The model is trained on simulations only (:func:`sklearn_miro.datasets.make_gaussian_clusters`),
never on the benchmark files. Every training graph is a fresh simulated field of view (FOV)
drawn from a broad family that covers the paper's nanocluster scenarios 2-10 and more:

* 1 or 2 cluster populations; per population a cluster width (std 8-100 nm, log-uniform), a
  number of molecules per cluster (4-150, log-uniform), round or elongated clusters (aspect
  ratio 1, or 1.5-6 with probability 0.3);
* 1-30 clusters per square micrometre (log-uniform), background 20-80 % of the molecules,
  uniform or with a left-to-right density gradient (probability 0.2);
* with or without multiple blinking (probability 0.5; 2.5-6 localisations per molecule on
  average, geometric law, localisation precision 8-20 nm);
* a FOV side chosen so that the FOV holds about 80-250 localisations (at least 6 cluster
  widths), the benchmark's 2,000 nm FOVs being much bigger.

Units (as for a model trained by ``MIROTransformer.fit`` with its defaults, so that fine-tuning
needs no conversion): graph edges shorter than 3.5 mean localisation spacings of the FOV
(``s = sqrt(area / n)``, :func:`sklearn_miro.pretrained.fov_spacing`); edge features, positions
and displacement targets in units of 0.4 x the FOV's cluster length scale R (the true median RMS
radius of its clusters times a log-normal error of 25 %, so that the network tolerates an
approximate R at inference). FOVs of more than 450 localisations are cut to a random window of
about 300. The targets point from the centroid of each cluster's localisations to each
localisation (0 for background).

Training has two stages (``--stage-one`` runs both in one go):

1. warm-up (:func:`stage_one`): the package's few-shot recipe (``MIROTransformer.fit``, one graph
   per step, 3,000 steps) on 3 simulated FOVs of scenario 6. Measured: on the mixture alone,
   from random weights, 1,000 steps with the L1 loss and 1,000 with the Huber loss stayed at
   the "move nothing" loss (the network's ReLUs died: constant output); the warm-up leaves it;
2. the mixture (``--steps``, batch 2), from the warm-up's weights, with the loss
   ``pretraining_loss`` (Huber displacement term + alpha x L1 edge-length term, averaged over the
   recurrent steps); Adam with a cosine decay; the weights with the lowest loss on 120 held-out
   simulated FOVs are kept.

Then ``--calibrate`` chooses the model's label-free DBSCAN rule (``eps`` in cluster radii,
``min_samples``) and the correction of its cluster-radius estimate on 20 simulated FOVs of
1,000-4,000 localisations (never the benchmark) and adds them to the JSON card.

    OMP_NUM_THREADS=1 python benchmarks/train_pretrained.py --stage-one --steps 1500 --learning-rate 5e-4 --seed 0
    OMP_NUM_THREADS=1 python benchmarks/train_pretrained.py --calibrate --seed 0

writes ``sklearn_miro/pretrained/nanoclusters.pt`` (a plain state_dict) and
``nanoclusters.json`` (settings, seed, wall and CPU time, loss curve, DBSCAN rule). A
checkpoint is written at every evaluation, so a run stopped early still leaves a usable model.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's package

from sklearn_miro.datasets import make_gaussian_clusters
from sklearn_miro.graph import build_graph
from sklearn_miro.network import MIRONetwork
from sklearn_miro.pretrained import (
    RADIUS_IN_SPACINGS,
    UNIT_IN_CLUSTER_RADII,
    cluster_rms_radius,
    collapse_fov,
    fov_spacing,
)
from sklearn_miro.training import TrainingGraph, collate

OUT = Path(__file__).resolve().parents[1] / "sklearn_miro" / "pretrained"


def _loguniform(rng, low, high):
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


#: Data families (``--family``): ``nanoclusters`` draws round clusters (70 %) and
#: elongated ones of aspect ratio 1.5-6 (30 %); ``elongated`` only elongated ones,
#: aspect ratio 2.5-9 (log-uniform): the shipped ``elongated`` model, the estimators'
#: fine-tuning start for elongated clusters with large crops (``sklearn_miro.model.elongated_start``);
#: ``blinking`` the clusters of ``nanoclusters`` with multiple blinking in every FOV (half of
#: ``nanoclusters``' FOVs have it).
FAMILIES = ("nanoclusters", "elongated", "blinking")


def _aspect_ratio(rng, family):
    if family == "elongated":
        return _loguniform(rng, 2.5, 9.0)
    return 1.0 if rng.random() < 0.7 else rng.uniform(1.5, 6.0)


def sample_settings(rng, family="nanoclusters"):
    """Random simulation settings of one training FOV (lengths in nm)."""
    n_pop = 2 if rng.random() < 0.35 else 1
    populations = []
    for _ in range(n_pop):
        populations.append(
            dict(
                cluster_std=_loguniform(rng, 8.0, 100.0),
                n_localizations=int(round(_loguniform(rng, 4.0, 150.0))),
                aspect_ratio=_aspect_ratio(rng, family),
            )
        )
    blinking = None
    if family == "blinking" or rng.random() < 0.5:
        blinking = dict(
            mean_blinks=rng.uniform(2.5, 6.0),
            localization_precision=(rng.uniform(8.0, 20.0), 4.0),
        )
    return dict(
        populations=populations,
        cluster_density=_loguniform(rng, 1.0, 30.0) / 1e6,  # clusters per nm^2
        background_fraction=rng.uniform(0.2, 0.8),
        background_gradient=rng.uniform(0.0, 1.0) if rng.random() < 0.2 else 0.0,
        blinking=blinking,
        n_target=rng.uniform(80, 250),
    )


def simulate_fov(settings, rng):
    """One simulated FOV: coordinates (nm) and cluster labels (-1 = background)."""
    pops = settings["populations"]
    mean_molecules = np.mean([p["n_localizations"] for p in pops])
    blinks = settings["blinking"]["mean_blinks"] * 0.8 if settings["blinking"] else 1.0
    molecules_per_nm2 = settings["cluster_density"] * mean_molecules / (1 - settings["background_fraction"])
    side = math.sqrt(settings["n_target"] / (molecules_per_nm2 * blinks))
    side = max(side, 6 * max(p["cluster_std"] for p in pops))
    n_clusters = rng.poisson(settings["cluster_density"] * side**2)
    split = rng.multinomial(n_clusters, np.full(len(pops), 1 / len(pops)))
    populations = [{**p, "n_clusters": int(k)} for p, k in zip(pops, split)]
    n_clustered = sum(p["n_clusters"] * p["n_localizations"] for p in populations)
    n_background = None
    if n_clustered == 0:  # only background: draw its count from the density
        n_background = int(rng.poisson(molecules_per_nm2 * settings["background_fraction"] * side**2)) + 2
    X, y, _ = make_gaussian_clusters(
        1,
        populations=populations,
        background_fraction=settings["background_fraction"],
        n_background=n_background,
        background_gradient=settings["background_gradient"],
        fov_size=side,
        blinking=settings["blinking"] or False,
        crop=settings["blinking"] is not None,
        random_state=rng,
    )
    return X, y


def centroid_offsets(X, y):
    """Position minus the centroid of its cluster; 0 for background (vectorised)."""
    out = np.zeros_like(X)
    clustered = y >= 0
    if clustered.any():
        _, codes = np.unique(y[clustered], return_inverse=True)
        counts = np.bincount(codes)
        centroids = np.stack(
            [np.bincount(codes, weights=X[clustered, d]) / counts for d in range(2)], axis=1
        )
        out[clustered] = X[clustered] - centroids[codes]
    return out


def cluster_radius(X, y):
    """Median RMS radius of the clusters with >= 2 localisations (vectorised); nan if none."""
    clustered = y >= 0
    if not clustered.any():
        return np.nan
    offsets = centroid_offsets(X, y)[clustered]
    _, codes = np.unique(y[clustered], return_inverse=True)
    counts = np.bincount(codes)
    rms = np.sqrt(np.bincount(codes, weights=(offsets**2).sum(axis=1)) / counts)
    rms = rms[counts >= 2]
    return float(np.median(rms)) if len(rms) else np.nan


def population_radius(settings):
    """RMS radius implied by the simulation settings (for FOVs without a cluster)."""
    p = settings["populations"][0]
    minor = p["cluster_std"] / p["aspect_ratio"]
    precision = settings["blinking"]["localization_precision"][0] if settings["blinking"] else 0.0
    return float(np.sqrt(p["cluster_std"] ** 2 + minor**2 + 2 * precision**2))


def make_graph(rng, length_noise=0.25, max_nodes=450, family="nanoclusters"):
    """A training graph (redrawn until it has >= 10 localisations).

    Graph edges shorter than RADIUS_IN_SPACINGS mean localisation spacings; edge
    features, positions and targets in units of UNIT_IN_CLUSTER_RADII x the FOV's
    cluster length scale, which is the true median cluster RMS radius times a
    log-normal error (``length_noise``), so that the network tolerates a length scale
    given or estimated to within about 25 %.
    """
    while True:
        settings = sample_settings(rng, family)
        X, y = simulate_fov(settings, rng)
        if X.shape[0] >= 10:
            break
    radius = cluster_radius(X, y)
    if not np.isfinite(radius) or radius <= 0:
        radius = population_radius(settings)
    if X.shape[0] > max_nodes:
        # Large FOVs (wide clusters need a wide FOV) are cut to a random window of
        # about 300 localisations: the cost of a step grows with the graph.
        low, high = X.min(axis=0), X.max(axis=0)
        window = (high - low) * math.sqrt(300 / X.shape[0])
        corner = low + rng.uniform(0.0, 1.0, 2) * (high - low - window)
        inside = np.all((X >= corner) & (X < corner + window), axis=1)
        X, y = X[inside], y[inside]
        if X.shape[0] < 10:
            return make_graph(rng, length_noise, max_nodes, family)
    s = fov_spacing(X)[0]
    unit = UNIT_IN_CLUSTER_RADII * radius * float(np.exp(rng.normal(0.0, length_noise)))
    P = X / unit
    graph = build_graph(P, RADIUS_IN_SPACINGS * s / unit, length_scale=1.0, normalization="rms")
    targets = centroid_offsets(P, y)
    return TrainingGraph(
        node_attr=torch.from_numpy(graph.node_attr),
        edge_index=torch.from_numpy(graph.edge_index),
        edge_attr=torch.from_numpy(graph.edge_attr),
        positions=torch.from_numpy(P.astype(np.float32)),
        targets=torch.from_numpy(targets[None].astype(np.float32)),
        classes=torch.zeros(X.shape[0], dtype=torch.long),
    )


def pretraining_loss(outputs, batch, alpha, distance_scale):
    """Huber displacement error + alpha x L1 edge-length term, averaged over steps.

    The package's :func:`sklearn_miro.training.miro_loss` uses an L1 displacement
    term, whose optimum is the conditional *median*: while the network cannot yet
    tell clusters from background (most localisations are background), the
    median displacement is exactly 0, and "move nothing" is an attractor. The
    Huber loss (smooth L1, quadratic below 1 length unit) seeks the mean for
    small errors and keeps the L1's bounded gradient for large ones.
    Fine-tuning then uses the package's L1 loss.
    """
    displacement = outputs[..., :2]
    targets = batch.targets[0].unsqueeze(0)
    loss = torch.nn.functional.smooth_l1_loss(
        displacement, targets.expand_as(displacement), beta=1.0, reduction="none"
    ).mean(dim=(1, 2))
    if alpha:
        src, tgt = batch.edge_index[0], batch.edge_index[1]
        moved_pred = batch.positions.unsqueeze(0) - displacement
        moved_true = batch.positions.unsqueeze(0) - targets
        len_pred = torch.linalg.vector_norm(moved_pred[:, src] - moved_pred[:, tgt], dim=-1)
        len_true = torch.linalg.vector_norm(moved_true[:, src] - moved_true[:, tgt], dim=-1)
        loss = loss + alpha * distance_scale * (len_pred - len_true).abs().mean(dim=1)
    return loss.mean()


def evaluate(network, batches, n_steps, alpha, distance_scale, trivial=False):
    """Mean loss per node on held-out graphs (``trivial``: of zero displacement)."""
    if network is not None:
        network.eval()
    total = count = 0.0
    with torch.no_grad():
        for batch in batches:
            if trivial:
                out = torch.zeros(n_steps, batch.n_nodes, 2)
            else:
                out = network(batch.node_attr, batch.edge_index, batch.edge_attr, n_steps)
            total += float(pretraining_loss(out, batch, alpha, distance_scale)) * batch.n_nodes
            count += batch.n_nodes
    if network is not None:
        network.train()
    return total / count


EPS_GRID = np.round(np.geomspace(0.1, 2.0, 12), 4)  # in cluster radii
MIN_SAMPLES_GRID = np.array([3, 4, 5, 6, 8, 10, 15, 20])


def full_size_fovs(n_fovs, rng, family="nanoclusters"):
    """``n_fovs`` simulated FOVs of 1,000-4,000 localisations with clusters of ``family``.

    Returns a list of (X, y, median cluster RMS radius, settings).
    """
    fovs = []
    while len(fovs) < n_fovs:
        settings = sample_settings(rng, family)
        settings["n_target"] = float(np.exp(rng.uniform(np.log(1000), np.log(4000))))
        X, y = simulate_fov(settings, rng)
        radius = cluster_radius(X, y)
        if np.isfinite(radius) and X.shape[0] >= 50:
            fovs.append((X, y, radius, settings))
    return fovs


def calibrate_dbscan(network, n_steps, seed, n_fovs=20, crop_features=True, family="nanoclusters"):
    """The label-free DBSCAN rule of the model: eps = k x cluster radius, fixed min_samples.

    Chosen on simulated FOVs of the training family (never the benchmark), at full-FOV
    sizes (1,000-4,000 localisations): maximises the mean of ARI-dagger and JI_c
    (the authors' definitions) over the FOVs. The FOVs are collapsed as zero-shot use
    collapses them: eigenvector features per square of ``FEATURE_TILE_SPACINGS`` mean
    spacings when ``crop_features`` (the estimators' default), else of the whole FOV.
    """
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import radius_neighbors_graph

    from sklearn_miro.metrics import ari_dagger, jaccard_cluster_index

    rng = np.random.default_rng(seed + 2_000_003)
    fovs = [(X, y, collapse_fov(network, X, n_steps, radius, crop_features=crop_features), radius)
            for X, y, radius, _ in full_size_fovs(n_fovs, rng, family)]
    scores = np.zeros((len(EPS_GRID), len(MIN_SAMPLES_GRID)))
    for i, k in enumerate(EPS_GRID):
        graphs = [radius_neighbors_graph(m, k * r, mode="distance") for _, _, m, r in fovs]
        for j, ms in enumerate(MIN_SAMPLES_GRID):
            total = 0.0
            for g, (X, y, _, r) in zip(graphs, fovs):
                labels = DBSCAN(eps=k * r, min_samples=int(ms), metric="precomputed").fit_predict(g)
                total += 0.5 * (ari_dagger(y, labels, variant="reference")
                                + jaccard_cluster_index(X, y, labels, variant="reference"))
            scores[i, j] = total / len(fovs)
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    # The label-free radius estimate measures the RMS radius of the clusters DBSCAN
    # finds with this rule; at the true R that is smaller than the truth (DBSCAN
    # keeps dense cores): the correction is the median ratio true / measured.
    ratios = []
    for X, y, moved, r in fovs:
        labels = DBSCAN(eps=EPS_GRID[i] * r, min_samples=int(MIN_SAMPLES_GRID[j])).fit_predict(moved)
        measured = cluster_rms_radius(X, labels)
        if np.isfinite(measured) and measured > 0:
            ratios.append(r / measured)
    return dict(
        radius_correction=float(np.median(ratios)) if ratios else 1.0,
        eps_in_radii=float(EPS_GRID[i]),
        min_samples=int(MIN_SAMPLES_GRID[j]),
        score=float(scores[i, j]),
        n_simulated_fovs=n_fovs,
        crop_features=bool(crop_features),
        eps_grid=EPS_GRID.tolist(),
        min_samples_grid=MIN_SAMPLES_GRID.tolist(),
        scores=np.round(scores, 4).tolist(),
    )


# From random weights (init=None: with these network settings init="auto" would
# fine-tune the shipped model, which is not how it was made) and in float32 (the
# arithmetic the shipped weights were trained in; precision="auto" would pick
# bfloat16 for a from-scratch fit on CPUs that have it).
STAGE_ONE = dict(n_augmented=600, max_epochs=5, batch_size=1, learning_rate=1e-3, init=None,
                 precision="float32")


def stage_one(seed, hidden_size=64, n_steps=15):
    """Warm-up: the package's few-shot recipe on 3 simulated FOVs of scenario 6.

    A single, easy family (20 elongated clusters of 50 molecules per FOV) gets the
    network off the "move nothing" solution in a few thousand steps (the demo's
    recipe: one graph per step); the mixture then starts from there. Same units as
    the mixture: connectivity radius 3.5 spacings, length unit 0.4 x the median
    cluster RMS radius (the estimator's defaults). Simulations only.
    """
    from sklearn_miro import MIROTransformer
    from sklearn_miro.datasets import make_benchmark_scenario

    X, y, fov = make_benchmark_scenario(6, n_fovs=3, random_state=seed)
    miro = MIROTransformer(hidden_size=hidden_size, n_steps=n_steps, random_state=seed, verbose=0,
                           device="cpu", **STAGE_ONE)
    miro.fit(X, y, groups=fov)
    return miro.network_.state_dict(), miro


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="nanoclusters")
    parser.add_argument("--steps", type=int, default=3500)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--family", choices=FAMILIES, default="nanoclusters",
                        help="simulated data family (see FAMILIES)")
    parser.add_argument("--n-steps", type=int, default=15, help="recurrent steps")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--distance-scale", type=float, default=0.1)
    parser.add_argument("--n-validation", type=int, default=120)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=OUT)
    parser.add_argument("--time-test", action="store_true", help="time 20 steps and exit")
    parser.add_argument("--stage-one", action="store_true",
                        help="first run the warm-up (stage_one) and start the mixture from it")
    parser.add_argument("--init-state", type=Path, default=None,
                        help="start from this state_dict (e.g. a saved stage_one result)")
    parser.add_argument("--calibrate", action="store_true",
                        help="only choose the DBSCAN rule of the trained model and add it to its JSON")
    parser.add_argument("--whole-fov-features", action="store_true",
                        help="calibrate with eigenvector features of the whole FOV (crop_features=False), "
                             "as the cards were calibrated before the seventeenth session")
    parser.add_argument("--compare", type=Path, nargs="+", default=None, metavar="STATE_DICT",
                        help="only print the held-out loss / move-nothing of these saved networks "
                             "on --n-compare fresh simulated FOVs (numpy seed --compare-seed)")
    parser.add_argument("--n-compare", type=int, default=200)
    parser.add_argument("--compare-seed", type=int, default=777)
    args = parser.parse_args(argv)
    if args.compare:
        torch.set_num_threads(1)
        compare_models(args.compare, args.n_compare, args.compare_seed, args.hidden_size,
                       args.n_steps, args.alpha, args.distance_scale, args.family)
        return
    if args.calibrate:
        torch.set_num_threads(1)
        card_path = args.output_dir / f"{args.name}.json"
        info = json.loads(card_path.read_text())
        network = MIRONetwork(**info["network"])
        network.load_state_dict(torch.load(args.output_dir / f"{args.name}.pt", weights_only=True))
        network.eval()
        wall, cpu = time.perf_counter(), time.process_time()
        # The family the model was trained on (cards from before --family: nanoclusters).
        family = info["training"].get("family", "nanoclusters")
        rule = calibrate_dbscan(network, info["n_steps"], args.seed, crop_features=not args.whole_fov_features,
                                family=family)
        command = f"OMP_NUM_THREADS=1 python benchmarks/train_pretrained.py --calibrate --seed {args.seed}"
        if args.name != "nanoclusters":
            command += f" --name {args.name}"
        if args.whole_fov_features:
            command += " --whole-fov-features"
        rule.update(wall_seconds=time.perf_counter() - wall, cpu_seconds=time.process_time() - cpu, command=command,
                    family=family)
        if "min_samples_rule" in info.get("dbscan", {}):
            # Its factor was fitted at the old eps on collapses by this network: refit, don't carry.
            print("The card's min_samples_rule was fitted with the previous DBSCAN rule and is dropped; "
                  "refit it with: " + info["dbscan"]["min_samples_rule"]["command"])
        if info.get("dbscan", {}).get("collapse_passes", 1) > 1:
            # The calibration collapses once; a second pass was measured with the old rule.
            print("The card's collapse_passes (a second pass of the network before the label-free "
                  "DBSCAN) was measured with the previous DBSCAN rule and is dropped: measure it again "
                  "(benchmarks/README.md, 'Issue 13, forty-second session').")
        info["dbscan"] = rule
        card_path.write_text(json.dumps(info, indent=1) + "\n")
        print(f"DBSCAN rule: eps = {rule['eps_in_radii']} x cluster radius, min_samples = "
              f"{rule['min_samples']} (score {rule['score']:.3f} on {rule['n_simulated_fovs']} simulated FOVs)")
        return

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    val_rng = np.random.default_rng(args.seed + 1_000_003)
    started_wall, started_cpu = time.perf_counter(), time.process_time()

    validation = [make_graph(val_rng, family=args.family) for _ in range(args.n_validation)]
    val_batches = [collate(validation[i : i + 8], torch.device("cpu")) for i in range(0, len(validation), 8)]
    trivial = evaluate(None, val_batches, args.n_steps, args.alpha, args.distance_scale, trivial=True)
    network = MIRONetwork(args.hidden_size, 2)
    stage_one_seconds = None
    if args.stage_one:
        wall = time.perf_counter()
        state, _ = stage_one(args.seed, args.hidden_size, args.n_steps)
        network.load_state_dict(state)
        stage_one_seconds = time.perf_counter() - wall
        print(f"stage one: {stage_one_seconds:.0f} s", flush=True)
    elif args.init_state is not None:
        network.load_state_dict(torch.load(args.init_state, weights_only=True))
    args.stage_one_seconds = stage_one_seconds
    optimiser = torch.optim.Adam(network.parameters(), lr=args.learning_rate)
    floor = 0.05
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda i: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(i, args.steps) / args.steps)),
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    history, best, best_state, best_step = [], np.inf, None, -1
    running, seen = 0.0, 0
    network.train()
    for step in range(1, args.steps + 1):
        batch = collate([make_graph(rng, family=args.family) for _ in range(args.batch_size)],
                        torch.device("cpu"))
        out = network(batch.node_attr, batch.edge_index, batch.edge_attr, args.n_steps)
        loss = pretraining_loss(out, batch, args.alpha, args.distance_scale)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 10.0)
        optimiser.step()
        scheduler.step()
        running += float(loss.detach())
        seen += 1
        if args.time_test and step == 20:
            print(f"20 steps: {time.perf_counter() - started_wall:.1f} s wall "
                  f"(including {args.n_validation} validation graphs)")
            return
        if step % args.eval_every == 0 or step == args.steps:
            val = evaluate(network, val_batches, args.n_steps, args.alpha, args.distance_scale)
            history.append(dict(step=step, train_loss=running / seen, validation_loss=val,
                                wall_s=time.perf_counter() - started_wall))
            running, seen = 0.0, 0
            if val < best:
                best, best_step = val, step
                best_state = copy.deepcopy(network.state_dict())
            print(f"step {step}: train {history[-1]['train_loss']:.4f} val {val:.4f} "
                  f"(move nothing: {trivial:.4f}) "
                  f"{history[-1]['wall_s']:.0f} s", flush=True)
            _save(args, best_state, best_step, best, trivial, history, started_wall, started_cpu,
                  finished=step == args.steps)


def compare_models(paths, n_fovs, seed, hidden_size, n_steps, alpha, distance_scale, family="nanoclusters"):
    """Held-out loss of saved networks on the same fresh simulated FOVs, against "move nothing".

    The validation FOVs of a training run depend on its seed, so losses printed by two runs
    are not comparable; this puts any number of models on one common set.
    """
    rng = np.random.default_rng(seed)
    graphs = [make_graph(rng, family=family) for _ in range(n_fovs)]
    batches = [collate(graphs[i : i + 8], torch.device("cpu")) for i in range(0, len(graphs), 8)]
    trivial = evaluate(None, batches, n_steps, alpha, distance_scale, trivial=True)
    print(f"move nothing: {trivial:.4f} ({n_fovs} FOVs, numpy seed {seed})")
    for path in paths:
        network = MIRONetwork(hidden_size, 2)
        network.load_state_dict(torch.load(path, weights_only=True))
        loss = evaluate(network, batches, n_steps, alpha, distance_scale)
        print(f"{path}: {loss:.4f} = {loss / trivial:.4f} x move nothing", flush=True)


def _save(args, state, best_step, best, trivial, history, started_wall, started_cpu, finished):
    torch.save(state, args.output_dir / f"{args.name}.pt")
    info = dict(
        name=args.name,
        network=dict(hidden_size=args.hidden_size, n_outputs=2, n_node_features=5, n_edge_features=3),
        n_steps=args.n_steps,
        radius_in_spacings=RADIUS_IN_SPACINGS,
        unit_in_cluster_radii=UNIT_IN_CLUSTER_RADII,
        eigenvector_normalization="rms",
        training=dict(
            script="benchmarks/train_pretrained.py",
            command=(f"OMP_NUM_THREADS=1 python benchmarks/train_pretrained.py --steps {args.steps} "
                     f"--batch-size {args.batch_size} --learning-rate {args.learning_rate} "
                     f"--seed {args.seed} --hidden-size {args.hidden_size} --family {args.family} "
                     f"--eval-every {args.eval_every} "
                     f"--name {args.name}" + (" --stage-one" if args.stage_one else "")
                     + (f" --init-state {args.init_state}" if args.init_state and not args.stage_one else "")),
            family=args.family,
            stage_one=(dict(STAGE_ONE, data="make_benchmark_scenario(6, n_fovs=3, random_state=seed)",
                            seconds=args.stage_one_seconds)
                       if args.stage_one else None),
            # The weights this run started from (--init-state), when not from stage one.
            init_state=str(args.init_state) if args.init_state and not args.stage_one else None,
            seed=args.seed,
            optimisation_steps_planned=args.steps,
            optimisation_steps_done=history[-1]["step"],
            finished=finished,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            lr_schedule="cosine to 5 %",
            alpha=args.alpha,
            distance_scale=args.distance_scale,
            n_validation_graphs=args.n_validation,
            best_step=best_step,
            best_validation_loss=best,
            move_nothing_validation_loss=trivial,
            wall_seconds=time.perf_counter() - started_wall,
            cpu_seconds=time.process_time() - started_cpu,
            torch_threads=torch.get_num_threads(),
            torch=torch.__version__,
            platform=platform.platform(),
            data="fresh simulated FOVs per step, see the docstring of benchmarks/train_pretrained.py",
            history=history,
        ),
    )
    (args.output_dir / f"{args.name}.json").write_text(json.dumps(info, indent=1) + "\n")


if __name__ == "__main__":
    main()
