"""Calibrate the placement of the rings and C-shapes against the paper's DBSCAN row.

The paper's recipes for its ring and C-shape scenarios (Table 1) give the FOV,
the number of structures, their radius and spread, but no rule on how close two
structures may be. This script simulates each scenario with several minimum
centre distances (``min_center_distance`` of :func:`sklearn_miro.datasets.make_rings`
and ``make_c_shapes``), tunes plain DBSCAN on 3 training FOVs exactly as
``quality.py`` does (MIRO's grid and score), scores 10 test FOVs with the
authors' metric definitions, and prints the paper's DBSCAN row beside them:
the distance whose DBSCAN row matches the paper's is the paper's data. No
network, no ``../shared`` data; a few seconds per setting.

    python benchmarks/shape_spacing_calibration.py rings 0 400 500 600
    python benchmarks/shape_spacing_calibration.py cshapes 0 300 400 500 600
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

from sklearn_miro.datasets import make_c_shapes, make_rings  # noqa: E402
from sklearn_miro.graph import default_connectivity_radius  # noqa: E402

# Paper Table 1, DBSCAN rows: ARI-dagger, JI_c, RMSRE_N (mean ± std over 50 FOVs).
PAPER_DBSCAN = {
    "rings": {"ari_dagger": (0.69, 0.02), "ji_c": (0.55, 0.04), "rmsre_n": (1.2, 0.4)},
    "cshapes": {"ari_dagger": (0.88, 0.02), "ji_c": (0.67, 0.09), "rmsre_n": (0.6, 0.3)},
}
METRICS = quality.TARGET_METRICS


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(PAPER_DBSCAN))
    parser.add_argument("distances", type=float, nargs="+", help="min_center_distance values, nm")
    args = parser.parse_args()
    make = make_rings if args.scenario == "rings" else make_c_shapes
    paper = PAPER_DBSCAN[args.scenario]
    print("| min_center_distance (nm) | DBSCAN eps / min_samples | "
          + " | ".join(f"{m} (paper {paper[m][0]} ± {paper[m][1]})" for m in METRICS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in METRICS) + " |")
    for distance in args.distances:
        data = quality._simulated(make, 10, None, min_center_distance=distance)
        train, (X, y, groups) = data["train"], data["test"]
        radius = default_connectivity_radius(train[0], train[2])
        params, labels = quality._tuned_dbscan_labels(*train, radius, X, groups)
        scores = quality.mean_scores(X, y, groups, labels)
        cells = []
        for m in METRICS:
            value = scores[m]
            off = (value - paper[m][0]) / paper[m][1]
            cells.append(f"{value:.3f} ({off:+.1f} std)")
        print(f"| {distance:g} | {params['eps']:.0f} / {params['min_samples']} | " + " | ".join(cells) + " |",
              flush=True)


if __name__ == "__main__":
    main()
