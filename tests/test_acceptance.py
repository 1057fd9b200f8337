"""The acceptance snippet of the core issue, as written, on the benchmark data.

It trains a default-sized MIROTransformer twice on three scenario-6 FOVs
(minutes on a CPU), so it is marked slow: ``python -m pytest -m slow``.
"""

import joblib
import numpy as np
import pytest
from sklearn.cluster import DBSCAN
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline

from sklearn_miro import MIROClusterer, MIROTransformer
from sklearn_miro.io import load_benchmark


@pytest.mark.slow
def test_core_acceptance_snippet(shared_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bench = load_benchmark(shared_dir / "data" / "nieves2023" / "ground_truth" / "scenario_6")
    X, y, fov = bench.X[bench.train_mask], bench.y[bench.train_mask], bench.groups[bench.train_mask]
    X_test = bench.X[bench.groups == bench.test_fov_numbers[0]]

    miro = MIROTransformer(random_state=0).fit(X, y, groups=fov)
    Xc = miro.transform(X_test)                     # shape (n, 2), nm
    labels = Pipeline([("miro", FrozenEstimator(miro)), ("dbscan", DBSCAN(eps=16, min_samples=10))]).fit_predict(X_test)
    with pytest.warns(UserWarning, match="MIROClusterer"):  # 3 FOVs stacked for one DBSCAN
        train_labels = Pipeline([("miro", MIROTransformer(random_state=0)), ("dbscan", DBSCAN(eps=16, min_samples=10))]
                                ).fit_predict(X, y, miro__groups=fov)   # the drop-in form, on labelled data
    clu = MIROClusterer(transformer=FrozenEstimator(miro), eps=16, min_samples=10).fit(X, y, groups=fov)  # trains nothing
    joblib.dump(clu, "m.joblib"); assert (joblib.load("m.joblib").predict(X_test) == clu.predict(X_test)).all()

    assert Xc.shape == X_test.shape
    assert labels.shape == (len(X_test),) and train_labels.shape == (len(X),)
    assert clu.transformer_.estimator is miro
    # Same seed, same data: the Pipeline's transformer is the same model.
    pipe_miro = MIROTransformer(random_state=0).fit(X, y, groups=fov)
    np.testing.assert_array_equal(pipe_miro.transform(X_test), Xc)
