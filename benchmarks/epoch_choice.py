"""Would choosing the epoch by the clusterer's score beat choosing it by the validation loss?

``fit`` keeps the weights of the epoch with the lowest loss on held-out
synthetic crops. What the user gets, though, is DBSCAN on the collapsed points,
and ``MIROClusterer`` already chooses everything after the network by its score
on the labelled FOVs (mean of ARI-dagger, JI_c and AMI). This probe records the
network's weights before fine-tuning (epoch 0, the pretrained start) and after
every epoch of a default fit, fits the clusterer on each (its own DBSCAN,
passes and trimming choice on the training FOVs) and scores each on the test
FOVs: is the epoch with the best training score a better pick?

    OMP_NUM_THREADS=1 python benchmarks/epoch_choice.py MB-S4 SS-5 SS-6 --seeds 0
"""

import copy
import sys
from pathlib import Path

from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parent))
import quality  # noqa: E402

import sklearn_miro.model as model_module  # noqa: E402
import sklearn_miro.training as training  # noqa: E402
from sklearn_miro import MIROClusterer  # noqa: E402

STATES = []


def _record_states():
    """Patch training so that STATES holds the weights at the start and after every epoch."""
    fit_network, evaluate = training.fit_network, training._evaluate

    def recording_fit(network, *args, **kwargs):
        STATES.clear()
        STATES.append(copy.deepcopy(network.state_dict()))
        return fit_network(network, *args, **kwargs)

    def recording_evaluate(network, *args, **kwargs):  # called once per epoch, after its updates
        STATES.append(copy.deepcopy(network.state_dict()))
        return evaluate(network, *args, **kwargs)

    training._evaluate = recording_evaluate
    model_module.fit_network = recording_fit


def run(name, seed, n_test):
    data, fitted, fit_cpu = quality.fit_default_clusterer(name, seed, n_test)
    Xtr, ytr, gtr = data["train"]
    Xte, yte, gte = data["test"]
    transformer = fitted.transformer_
    out = {"scenario": name, "seed": seed, "fit_cpu_s": fit_cpu, "kept_epoch": int(transformer.best_epoch_) + 1,
           "validation_loss": [float(v) for v in transformer.validation_loss_curve_], "epochs": []}
    for epoch, state in enumerate(list(STATES)):
        candidate = copy.deepcopy(transformer)
        candidate.network_.load_state_dict(state)
        clusterer = MIROClusterer(FrozenEstimator(candidate)).fit(Xtr, ytr, groups=gtr)
        scores, _ = quality.probe_test_scores(clusterer, Xte, yte, gte)
        out["epochs"].append({"epoch": epoch, "training_score": float(max(clusterer.outlier_radius_scores_.values())),
                              "collapse_passes": int(clusterer.collapse_passes_), **scores})
    return out


def report(result):
    print(f"{result['scenario']} seed {result['seed']} (epoch kept by the validation loss: "
          f"{result['kept_epoch']}; fit {result['fit_cpu_s'] / 60:.2f} CPU-min)")
    for e in result["epochs"]:
        print(f"  epoch {e['epoch']}: training score {e['training_score']:.4f}, passes {e['collapse_passes']}: "
              f"ARI† {e['ari_dagger']:.3f} JI_c {e['ji_c']:.3f} RMSRE_N {e['rmsre_n']:.3f}", flush=True)


if __name__ == "__main__":
    _record_states()
    quality.run_probe(__doc__, run, report)
