"""Probe the first few hundred Adam steps of MIRO training: does it leave "move nothing"?

Replicates the estimator's training set-up (training set, default radius, length unit and
crop) on a simulated scenario, trains a fresh network one configuration after another and
prints, every ``every`` steps, the loss of 20 held-out synthetic FOVs relative to the loss of
predicting zero, the fraction of active ReLU units of the node update and the mean |output|.

    python benchmarks/move_nothing_probe.py SCENARIO {b|n} CONFIGS_JSON N_STEPS
    python benchmarks/move_nothing_probe.py 9 n '[{"bs": 1, "every": 50}, {"bs": 1, "T": 5}]' 400

Config keys: bs (graphs per step), lr, ls (length unit), fov (crop side), T (recurrent
steps), hidden, seed, curr ([T0, T]: recurrent-step curriculum), loss ("balanced",
"clustered_x" with w, "relative", "huber"), every. SMALL_ONLY=1 in the environment drops
clusters of more than 20 localisations. Benchmark use only (see benchmarks/README.md).
"""
import sys, time, json, numpy as np, torch
torch.set_num_threads(1)
from sklearn_miro.datasets import make_benchmark_scenario
from sklearn_miro.training import (prepare_training_set, default_length_scale, default_fov_size,
    make_training_graphs, AugmentationOptions, collate, miro_loss)
from sklearn_miro.graph import default_connectivity_radius
from sklearn_miro.network import MIRONetwork
from sklearn_miro.diagnostics import zero_displacement_loss
scen = int(sys.argv[1]); blink = sys.argv[2] == 'b'; configs = json.loads(sys.argv[3]); nsteps_opt = int(sys.argv[4]) if len(sys.argv) > 4 else 80
X, y, g = make_benchmark_scenario(scen, blinking=blink, n_fovs=3, random_state=0)
import os
if os.environ.get('SMALL_ONLY'):  # keep the background and the clusters of <= 20 localisations
    sizes = np.bincount(np.unique(np.stack([g, y], 1)[y >= 0], axis=0, return_inverse=True)[1].ravel())
    key = np.full(len(y), -1); key[y >= 0] = np.unique(np.stack([g, y], 1)[y >= 0], axis=0, return_inverse=True)[1].ravel()
    keep = (y < 0) | (sizes[np.maximum(key, 0)] <= 20)
    X, y, g = X[keep], y[keep], g[keep]
ts = prepare_training_set(X, y, g)
r = default_connectivity_radius(X, g)
side = np.median([np.ptp(X[g == k], axis=0).mean() for k in np.unique(g)])
dens = len(X) / 3 / side**2
fov = default_fov_size(ts, dens)
for cfg in configs:
    T = cfg.get('T', 15)
    ls = cfg.get('ls') or default_length_scale(ts)
    rng = np.random.default_rng(0)
    opts = AugmentationOptions.from_dict({'fov_size': cfg.get('fov', fov)})
    graphs = make_training_graphs(ts, 120, r, opts, rng, length_scale=ls, normalization='rms')
    torch.manual_seed(cfg.get('seed', 0))
    net = MIRONetwork(cfg.get('hidden', 64), 2)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.get('lr', 1e-3))
    steps = torch.zeros(T, dtype=torch.long)
    ds = r / side
    def lossf(out, b, train=False):
        base = miro_loss(out, b, steps, 10.0, ds)
        kind = cfg.get('loss') if train else None
        if kind is None:
            return base
        t = b.targets[steps]
        plain = (out[..., :2] - t).abs().mean()
        if kind == 'balanced':
            c = (b.targets.abs().sum(dim=(0, 2)) > 0).float(); f = c.mean().clamp(1e-3, 1 - 1e-3)
            w = c * (0.5 / f) + (1 - c) * (0.5 / (1 - f))
            return base - plain + ((out[..., :2] - t).abs().mean(dim=2) * w).mean()
        if kind == 'clustered_x':  # clustered nodes weighted cfg['w']
            c = (b.targets.abs().sum(dim=(0, 2)) > 0).float()
            w = 1 + (cfg['w'] - 1) * c; w = w / w.mean()
            return base - plain + ((out[..., :2] - t).abs().mean(dim=2) * w).mean()
        if kind == 'relative':  # clustered nodes weighted 1/|target| (scale-free across cluster sizes)
            mag = torch.linalg.vector_norm(t, dim=-1)  # (T, N)
            c = (b.targets.abs().sum(dim=(0, 2)) > 0).float()
            w = 1 + c * (1 / mag.clamp_min(cfg.get('floor', 0.5)) - 1)
            w = w / w.mean()
            return base - plain + ((out[..., :2] - t).abs().mean(dim=2) * w).mean()
        if kind == 'huber':
            return base - plain + torch.nn.functional.smooth_l1_loss(out[..., :2], t.expand_as(out[..., :2]), beta=1.0)
        raise ValueError(kind)
    val = [collate(graphs[100 + i:104 + i], torch.device('cpu')) for i in range(0, 20, 4)]
    zero = zero_displacement_loss(val, lossf, T)
    act = {}
    net.update.register_forward_hook(lambda m, i, o: act.__setitem__('h', (o > 0).float().mean().item()))
    bs = cfg.get('bs', 4)
    t0 = time.process_time()
    line = []
    for step in range(nsteps_opt):
        idx = rng.choice(100, bs, replace=False)
        b = collate([graphs[i] for i in idx], torch.device('cpu'))
        Tt = T
        if 'curr' in cfg:  # recurrent-step curriculum: T grows linearly from curr[0] over the first half
            t0_, t1_ = cfg['curr']
            Tt = int(min(t1_, t0_ + (t1_ - t0_) * step / max(1, nsteps_opt // 2)))
        out = net(b.node_attr, b.edge_index, b.edge_attr, Tt)
        loss = miro_loss(out, b, torch.zeros(Tt, dtype=torch.long), 10.0, ds) if Tt != T else lossf(out, b, train=True)
        opt.zero_grad(); loss.backward(); opt.step()
        if step % int(cfg.get('every', 10)) == int(cfg.get('every', 10)) - 1 or step == 0:
            with torch.no_grad():
                vl = sum(float(lossf(net(v.node_attr, v.edge_index, v.edge_attr, T), v)) * v.n_nodes for v in val) / sum(v.n_nodes for v in val)
                o = net(val[0].node_attr, val[0].edge_index, val[0].edge_attr, T)
            line.append(f"{step+1}: rel {vl/zero:.3f} act {act['h']:.2f} |out| {o[-1].abs().mean():.3f}")
    print(cfg, f'ls {ls:.1f} r {r:.1f} fov {fov:.0f} cpu {time.process_time()-t0:.0f}s', ' | '.join(line), flush=True)
