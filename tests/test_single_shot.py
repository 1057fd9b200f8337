"""Single-shot training FOVs from one labelled cluster."""

import numpy as np
import pytest

from sklearn_miro import MIROTransformer
from sklearn_miro.single_shot import load_reference_single_shot, single_shot_training_fovs


def test_single_shot_fovs_hold_rotated_copies_of_the_cluster():
    rng = np.random.default_rng(0)
    cluster = rng.normal(scale=[40.0, 10.0], size=(12, 2)) + 500.0  # off-centre on purpose
    before = cluster.copy()
    X, y, fov = single_shot_training_fovs(cluster, n_clusters=5, n_background=30,
                                          fov_size=1000.0, n_fovs=2, random_state=0)
    np.testing.assert_array_equal(cluster, before)  # the input is not centred in place
    assert X.shape == (2 * (5 * 12 + 30), 2) and len(y) == len(fov) == len(X)
    assert np.all((X >= 0) & (X <= 1000.0))
    assert sorted(np.unique(y)) == [-1, 0, 1, 2, 3, 4]
    centred = cluster - cluster.mean(axis=0)
    radii = np.sort(np.linalg.norm(centred, axis=1))
    for f in (0, 1):
        for k in range(5):
            pts = X[(fov == f) & (y == k)]
            # a rigid copy: same distances to the centre (rotation + reflection)
            np.testing.assert_allclose(np.sort(np.linalg.norm(pts - pts.mean(axis=0), axis=1)), radii)
    X2, _, _ = single_shot_training_fovs(cluster, n_clusters=5, n_background=30,
                                         fov_size=1000.0, n_fovs=2, random_state=0)
    np.testing.assert_array_equal(X, X2)
    # A Generator seeds it too, as every simulator of sklearn_miro.datasets.
    X3, _, _ = single_shot_training_fovs(cluster, n_clusters=5, n_background=30, fov_size=1000.0,
                                         n_fovs=2, random_state=np.random.default_rng(1))
    X4, _, _ = single_shot_training_fovs(cluster, n_clusters=5, n_background=30, fov_size=1000.0,
                                         n_fovs=2, random_state=np.random.default_rng(1))
    np.testing.assert_array_equal(X3, X4)


def test_resampled_copies_vary_but_keep_the_cluster_shape():
    rng = np.random.default_rng(0)
    cluster = rng.normal(scale=[40.0, 10.0], size=(30, 2))  # elongated along x
    X, y, fov = single_shot_training_fovs(cluster, n_clusters=40, n_background=10, fov_size=3000.0,
                                          n_fovs=1, resample=True, random_state=0)
    assert X.shape == (40 * 30 + 10, 2)
    assert np.all((X >= 0) & (X <= 3000.0))
    radii = np.sort(np.linalg.norm(cluster - cluster.mean(axis=0), axis=1))
    ratios, spreads = [], []
    for k in range(40):
        pts = X[y == k] - X[y == k].mean(axis=0)
        # not a rigid copy any more ...
        assert not np.allclose(np.sort(np.linalg.norm(pts, axis=1)), radii)
        eig = np.linalg.eigvalsh(np.cov(pts, rowvar=False))
        ratios.append(np.sqrt(eig[1] / eig[0]))
        spreads.append(np.sqrt(eig.sum()))
    # ... but still elongated (the original's axis ratio is about 4) and of about its size:
    # the kernel has the cluster's covariance times m**(-1/3), so the spread grows by
    # sqrt(1 + 30**(-1/3)), about 1.15.
    original = np.linalg.eigvalsh(np.cov(cluster, rowvar=False))
    assert np.median(ratios) > 2.5
    np.testing.assert_allclose(np.median(spreads) / np.sqrt(original.sum()), 1.15, rtol=0.15)
    X2, _, _ = single_shot_training_fovs(cluster, n_clusters=40, n_background=10, fov_size=3000.0,
                                         n_fovs=1, resample=True, random_state=0)
    np.testing.assert_array_equal(X, X2)


def test_size_spread_scales_rigid_copies_by_a_log_normal_factor():
    rng = np.random.default_rng(0)
    cluster = rng.normal(scale=[40.0, 10.0], size=(36, 2))
    radii = np.sort(np.linalg.norm(cluster - cluster.mean(axis=0), axis=1))
    X, y, _ = single_shot_training_fovs(cluster, n_clusters=200, n_background=0, fov_size=20000.0,
                                        n_fovs=1, size_spread="auto", random_state=0)
    assert np.all((X >= 0) & (X <= 20000.0))
    factors = []
    for k in range(200):
        copy_radii = np.sort(np.linalg.norm(X[y == k] - X[y == k].mean(axis=0), axis=1))
        factor = np.median(copy_radii / radii)
        np.testing.assert_allclose(copy_radii, factor * radii, rtol=1e-9)  # same shape, scaled
        factors.append(factor)
    # "auto": log-factors of standard deviation 1 / (2 sqrt(36)) = 1/12, centred on 1
    logs = np.log(factors)
    assert abs(np.std(logs) - 1 / 12) < 0.012 and abs(np.mean(logs)) < 0.02
    X0, _, _ = single_shot_training_fovs(cluster, n_clusters=200, n_background=0, fov_size=20000.0,
                                         n_fovs=1, size_spread=0.0, random_state=0)
    X1, _, _ = single_shot_training_fovs(cluster, n_clusters=200, n_background=0, fov_size=20000.0,
                                         n_fovs=1, random_state=0)
    np.testing.assert_array_equal(X0, X1)  # 0 (the default) draws nothing extra


@pytest.mark.parametrize("options", [{}, {"size_spread": 0.3}, {"resample": True}])
def test_every_copy_lies_inside_a_tight_fov(options):
    # A square cluster's corners are farther from its centre than its largest
    # coordinate: rotated copies need their radius as margin. Scaled or
    # resampled copies too wide for the FOV are shrunk to fit.
    side = np.linspace(-10.0, 10.0, 5)
    cluster = np.array([(x, y) for x in side for y in side])
    X, _, _ = single_shot_training_fovs(cluster, n_clusters=50, n_background=0, fov_size=30.0,
                                        n_fovs=2, random_state=0, **options)
    assert np.all((X >= 0) & (X <= 30.0))
    with pytest.raises(ValueError, match="does not fit"):
        single_shot_training_fovs(cluster, n_clusters=2, n_background=0, fov_size=28.0)  # diagonal 28.3


def test_single_shot_fovs_validate_inputs():
    cluster = np.random.default_rng(0).normal(scale=25.0, size=(10, 2))
    with pytest.raises(ValueError, match="does not fit"):
        single_shot_training_fovs(cluster, n_clusters=3, n_background=0, fov_size=1.0)
    with pytest.raises(ValueError, match="n_clusters"):
        single_shot_training_fovs(cluster, n_clusters=0, n_background=0, fov_size=1000.0)
    with pytest.raises(ValueError, match="cluster"):
        single_shot_training_fovs(cluster[:1], n_clusters=3, n_background=0, fov_size=1000.0)
    with pytest.raises(ValueError, match="resample must be True or False"):
        single_shot_training_fovs(cluster, n_clusters=3, n_background=0, fov_size=1000.0, resample="kde")
    for bad in ("wide", -0.1, float("nan"), True, [0.1]):
        with pytest.raises(ValueError, match="size_spread must be a finite number >= 0 or 'auto'"):
            single_shot_training_fovs(cluster, n_clusters=3, n_background=0, fov_size=1000.0, size_spread=bad)


def test_single_shot_fovs_train_a_transformer():
    cluster = np.random.default_rng(1).normal(scale=25.0, size=(15, 2))
    X, y, fov = single_shot_training_fovs(cluster, n_clusters=10, n_background=150,
                                          fov_size=1000.0, random_state=0)
    miro = MIROTransformer(hidden_size=8, n_steps=2, n_augmented=4, max_epochs=1,
                           random_state=0, verbose=0).fit(X, y, groups=fov)
    assert miro.transform(X[fov == 0]).shape == (int((fov == 0).sum()), 2)


def test_reference_single_shot_files(shared_dir):
    cluster, spec = load_reference_single_shot(shared_dir / "reference", 6)
    assert cluster.shape == (50, 2)
    np.testing.assert_allclose(cluster.mean(axis=0), 0.0, atol=1e-9)
    assert spec["n_clusters"] == 15 and spec["n_background"] == 500
    # normalised coordinates times the 2000-nm FOV: an elongated cluster of tens of nm
    assert 20.0 < cluster.std(axis=0).max() < 150.0
    with pytest.raises(FileNotFoundError):
        load_reference_single_shot(shared_dir, 6)
