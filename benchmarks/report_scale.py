"""clustering_report on one FOV of N localisations (argv[1] clusters of 30 + 20 background per cluster), at the origin and shifted by 10^9 nm.

    OMP_NUM_THREADS=1 python benchmarks/report_scale.py 20000     # 10^6 localisations
"""
import time, resource, numpy as np
from sklearn_miro.metrics import clustering_report
rng = np.random.default_rng(0)
import sys
n_clusters, per = int(sys.argv[1]), 30
side = 100_000.0 * np.sqrt(n_clusters / 20000)
centres = rng.uniform(0, side, (n_clusters, 2))
X = np.concatenate([np.repeat(centres, per, 0) + rng.normal(0, 30, (n_clusters * per, 2)), rng.uniform(0, side, (n_clusters * 20, 2))])
y = np.r_[np.repeat(np.arange(n_clusters), per), -np.ones(n_clusters * 20, int)]
# a realistic prediction: 10 % of the localisations missed (noise), every 10th cluster split in two,
# 5 % of the background attached to the nearest true cluster's label is not attempted (no hull blow-up)
pred = np.where(rng.random(y.size) < 0.1, -1, y)
split = (pred >= 0) & (pred % 10 == 0) & (rng.random(y.size) < 0.5)
pred[split] = n_clusters + pred[split]
for shift in (0.0, 1e9):
    w, c = time.perf_counter(), time.process_time()
    r = clustering_report(X + shift, y, pred)
    print(f"shift {shift:g}: wall {time.perf_counter()-w:.1f} s, CPU {time.process_time()-c:.1f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MB", flush=True)
    print(r.round(4).to_string(), flush=True)
