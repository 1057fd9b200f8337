"""The MIRO paper's published results (Supplementary Tables S3 and S4), as data.

Pineda et al., Nat. Commun. 16, 9693 (2025): mean +- standard deviation over the
47 test FOVs of each benchmark scenario, for MIRO and for plain DBSCAN with the
benchmark's parameters. RMSE_xy was computed by the authors as
sqrt(mean(|centroid error|)) in their code, so compare it with
``variant="reference"``.
"""

METRICS = ("ari_dagger", "iou", "ji_c", "rmsre_n", "rmse_xy", "ami", "ari_c", "ari")
LABELS = {
    "ari_dagger": "ARI†",
    "iou": "IoU",
    "ji_c": "JI_c",
    "rmsre_n": "RMSRE_N",
    "rmse_xy": "RMSE_xy",
    "ami": "AMI",
    "ari_c": "ARI_c",
    "ari": "ARI",
}
# Lower is better for these; higher for the others.
LOWER_IS_BETTER = ("rmsre_n", "rmse_xy")


def _row(text):
    """'0.86 ± 0.02 | ...' -> tuple of (mean, std) in METRICS order."""
    cells = [c.strip() for c in text.split("|")]
    out = []
    for cell in cells:
        mean, std = cell.split("±")
        out.append((float(mean), float(std)))
    assert len(out) == len(METRICS)
    return dict(zip(METRICS, out))


# Key: (blinking, scenario) -> {"MIRO": row, "DBSCAN": row}
PAPER = {
    # Table S3 (no blinking)
    (False, 2): {
        "MIRO": _row("0.86 ± 0.02 | 0.80 ± 0.04 | 0.97 ± 0.04 | 0.18 ± 0.09 | 2.1 ± 0.2 | 0.87 ± 0.02 | 0.93 ± 0.04 | 0.87 ± 0.02"),
        "DBSCAN": _row("0.84 ± 0.03 | 0.74 ± 0.04 | 0.87 ± 0.09 | 0.3 ± 0.2 | 2.4 ± 0.4 | 0.86 ± 0.02 | 0.88 ± 0.06 | 0.85 ± 0.02"),
    },
    (False, 4): {
        "MIRO": _row("0.52 ± 0.13 | 0.44 ± 0.08 | 0.71 ± 0.10 | 0.32 ± 0.14 | 2.9 ± 0.4 | 0.68 ± 0.06 | 0.78 ± 0.12 | 0.69 ± 0.06"),
        "DBSCAN": _row("0.49 ± 0.12 | 0.39 ± 0.07 | 0.67 ± 0.11 | 0.39 ± 0.13 | 3.2 ± 0.4 | 0.65 ± 0.05 | 0.75 ± 0.11 | 0.67 ± 0.06"),
    },
    (False, 5): {
        "MIRO": _row("0.57 ± 0.02 | 0.62 ± 0.02 | 0.88 ± 0.03 | 0.56 ± 0.10 | 3.13 ± 0.12 | 0.657 ± 0.012 | 0.64 ± 0.03 | 0.57 ± 0.02"),
        "DBSCAN": _row("0.55 ± 0.03 | 0.56 ± 0.02 | 0.67 ± 0.04 | 1.1 ± 0.2 | 3.6 ± 0.2 | 0.637 ± 0.013 | 0.46 ± 0.04 | 0.56 ± 0.02"),
    },
    (False, 6): {
        "MIRO": _row("0.72 ± 0.03 | 0.67 ± 0.03 | 0.95 ± 0.04 | 0.22 ± 0.09 | 3.6 ± 0.4 | 0.783 ± 0.015 | 0.86 ± 0.04 | 0.76 ± 0.02"),
        "DBSCAN": _row("0.66 ± 0.03 | 0.57 ± 0.03 | 0.67 ± 0.07 | 0.5 ± 0.2 | 4.6 ± 0.7 | 0.73 ± 0.02 | 0.66 ± 0.07 | 0.73 ± 0.02"),
    },
    (False, 8): {
        "MIRO": _row("0.83 ± 0.04 | 0.72 ± 0.06 | 0.88 ± 0.08 | 0.16 ± 0.06 | 2.3 ± 0.3 | 0.85 ± 0.03 | 0.92 ± 0.04 | 0.83 ± 0.03"),
        "DBSCAN": _row("0.81 ± 0.04 | 0.65 ± 0.06 | 0.80 ± 0.11 | 0.3 ± 0.2 | 2.6 ± 0.3 | 0.83 ± 0.03 | 0.90 ± 0.07 | 0.80 ± 0.04"),
    },
    # Table S4 (multiple blinking)
    (True, 2): {
        "MIRO": _row("0.83 ± 0.03 | 0.71 ± 0.05 | 0.86 ± 0.07 | 0.26 ± 0.10 | 2.6 ± 0.3 | 0.83 ± 0.03 | 0.92 ± 0.04 | 0.75 ± 0.06"),
        "DBSCAN": _row("0.81 ± 0.04 | 0.68 ± 0.06 | 0.78 ± 0.11 | 0.5 ± 0.3 | 3.0 ± 0.5 | 0.81 ± 0.04 | 0.830 ± 0.099 | 0.73 ± 0.06"),
    },
    (True, 4): {
        "MIRO": _row("0.67 ± 0.10 | 0.31 ± 0.07 | 0.34 ± 0.08 | 0.6 ± 0.2 | 3.5 ± 0.5 | 0.47 ± 0.08 | 0.5 ± 0.2 | 0.35 ± 0.10"),
        "DBSCAN": _row("0.56 ± 0.13 | 0.27 ± 0.06 | 0.30 ± 0.09 | 0.8 ± 0.4 | 3.6 ± 0.6 | 0.45 ± 0.08 | 0.4 ± 0.2 | 0.34 ± 0.10"),
    },
    (True, 5): {
        "MIRO": _row("0.59 ± 0.02 | 0.56 ± 0.02 | 0.70 ± 0.04 | 0.78 ± 0.13 | 3.71 ± 0.14 | 0.62 ± 0.02 | 0.50 ± 0.05 | 0.37 ± 0.03"),
        "DBSCAN": _row("0.56 ± 0.03 | 0.54 ± 0.03 | 0.56 ± 0.05 | 1.3 ± 0.2 | 3.92 ± 0.15 | 0.60 ± 0.02 | 0.28 ± 0.05 | 0.42 ± 0.03"),
    },
    (True, 6): {
        "MIRO": _row("0.66 ± 0.04 | 0.66 ± 0.03 | 0.89 ± 0.06 | 0.40 ± 0.12 | 4.3 ± 0.5 | 0.74 ± 0.02 | 0.84 ± 0.05 | 0.65 ± 0.03"),
        "DBSCAN": _row("0.65 ± 0.03 | 0.61 ± 0.03 | 0.72 ± 0.09 | 0.6 ± 0.2 | 4.8 ± 0.5 | 0.70 ± 0.02 | 0.65 ± 0.06 | 0.66 ± 0.03"),
    },
    (True, 8): {
        "MIRO": _row("0.84 ± 0.04 | 0.62 ± 0.06 | 0.57 ± 0.07 | 0.28 ± 0.13 | 2.6 ± 0.4 | 0.77 ± 0.05 | 0.81 ± 0.08 | 0.65 ± 0.08"),
        "DBSCAN": _row("0.82 ± 0.05 | 0.59 ± 0.05 | 0.52 ± 0.05 | 0.4 ± 0.2 | 2.9 ± 0.6 | 0.76 ± 0.04 | 0.74 ± 0.08 | 0.64 ± 0.06"),
    },
}


def paper_row(blinking, scenario, method):
    """(mean, std) per metric of the paper's row, or None when not published here."""
    return PAPER.get((bool(blinking), int(scenario)), {}).get(method)
