"""MIROShapeClassifier: cluster SMLM point clouds and classify the shape of every cluster.

Paper, "Simultaneous clustering and classification of different shapes" and
Eq. 7: besides the displacement, the network predicts class logits for every
localisation at every recurrent step, trained with a cross-entropy term of
weight ``beta``. In the paper the class of a cluster is the mode of the
classes predicted for its localisations; here, with enough labelled clusters,
a small model learned on the training clusters' geometry and that vote
classifies each cluster instead (``cluster_classes``).
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import DataConversionWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..analysis import cluster_table
from ..clustering import (
    EPS_CONSTRAINTS,
    MIN_SAMPLES_CONSTRAINTS,
    choose_dbscan_parameters_rules,
    cluster_per_fov,
    dbscan_template,
    fov_area_weights,
    is_auto,
)
from .._validation import caller_stacklevel, check_cluster_labels, check_label_vector
from ._base import (
    AUTO_BORDER_POINTS,
    MULTISCALE_N_STEPS,
    NETWORK_DEFAULTS,
    BaseMIRO,
    radius_in_units_of_x,
    search_border_rules,
)

__all__ = [
    "CLUSTER_DESCRIPTORS",
    "MIROShapeClassifier",
    "class_attributes",
    "cluster_descriptors",
    "mode_per_cluster",
    "shape_targets",
]

#: Geometric columns of :func:`cluster_descriptors` (then, per class, the
#: fraction of the cluster's localisations predicted in it and their mean
#: probability of it).
CLUSTER_DESCRIPTORS = ("log_n_localizations", "log_radius_of_gyration", "axis_ratio",
                       "radial_spread", "arc_resultant")

#: ``cluster_classes="auto"`` learns from the descriptors only with at least
#: this many training clusters of each of at least two classes; fewer, and a
#: linear model on seven or more features would mostly learn its noise.
MIN_CLUSTERS_PER_CLASS = 5

_D = NETWORK_DEFAULTS


def _softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def mode_per_cluster(labels, codes, n_classes, *, background=-1):
    """Replace the class of every clustered localisation by its cluster's mode.

    Parameters
    ----------
    labels : ndarray of shape (n,)
        Cluster labels; ``background`` localisations are left unchanged.
    codes : ndarray of shape (n,) of int
        Class index of every localisation, in ``[0, n_classes)``.
    n_classes : int
    background : int, default=-1

    Returns
    -------
    refined : ndarray of shape (n,) of int
        A new array. Ties go to the smaller class index.
    """
    labels = np.asarray(labels)
    codes = np.asarray(codes, dtype=np.int64)
    refined = codes.copy()
    inside = labels != background
    if not inside.any():
        return refined
    clusters, cluster_of = np.unique(labels[inside], return_inverse=True)
    votes = np.zeros((len(clusters), n_classes), dtype=np.int64)
    np.add.at(votes, (cluster_of, codes[inside]), 1)
    refined[inside] = votes.argmax(axis=1)[cluster_of]
    return refined


def cluster_descriptors(X, labels, proba):
    """One row of descriptors per cluster: its geometry and the network's vote.

    Parameters
    ----------
    X : ndarray of shape (n, 2)
        Original (not collapsed) coordinates.
    labels : ndarray of shape (n,)
        Cluster labels, unique across FOVs, -1 for background.
    proba : ndarray of shape (n, n_classes)
        Class probabilities of every localisation.

    Returns
    -------
    cluster_of : ndarray of shape (n,)
        Row of every localisation's cluster, -1 for background.
    features : ndarray of shape (n_clusters, 5 + 2 * n_classes)
        :data:`CLUSTER_DESCRIPTORS` (from
        :func:`~sklearn_miro.analysis.cluster_table`: log count, log radius of
        gyration, minor over major standard deviation, spread of the distances
        to the centroid, length of the mean unit vector), then the fraction of
        the cluster's localisations whose argmax is each class, then the mean
        probability of each class.
    """
    cluster_of = np.full(len(labels), -1, dtype=np.int64)
    n_classes = proba.shape[1]
    inside = labels >= 0
    if not inside.any():
        return cluster_of, np.zeros((0, len(CLUSTER_DESCRIPTORS) + 2 * n_classes))
    table = cluster_table(X, labels, check_units=False)  # one FOV: labels are unique across FOVs
    cluster_of[inside] = np.searchsorted(table["label"].to_numpy(), labels[inside])
    k, rows = len(table), cluster_of[inside]
    sizes = table["n_localizations"].to_numpy(dtype=float)
    major = table["major_std"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        axis_ratio = np.where(major > 0, table["minor_std"].to_numpy() / major, 1.0)
    geometry = np.column_stack([
        np.log(sizes),
        # Clusters of coincident localisations have no extent: a floor of 1e-3 units.
        np.log(np.maximum(table["radius_of_gyration"].to_numpy(), 1e-3)),
        axis_ratio,
        np.nan_to_num(table["radial_spread"].to_numpy(), nan=0.0),
        table["arc_resultant"].to_numpy(),
    ])  # fmt: skip
    votes = np.zeros((k, n_classes))
    np.add.at(votes, (rows, proba[inside].argmax(axis=1)), 1.0)
    mean_proba = np.column_stack([np.bincount(rows, proba[inside][:, c], k) for c in range(n_classes)])
    return cluster_of, np.column_stack([geometry, votes / sizes[:, None], mean_proba / sizes[:, None]])


def _cluster_class_model():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _fitted_cluster_class_model(features, targets):
    """:func:`_cluster_class_model` fitted, with a pickling-stable ``coef_``.

    A binary LogisticRegression keeps ``coef_`` of shape (1, n) with strides
    (0, 8); pickling rebuilds it with strides (n * 8, 8), so ``joblib.hash``
    (and with it ``joblib.Memory`` caching) of a saved-and-loaded classifier
    differed from the original's. A copy has the ordinary strides.
    """
    model = _cluster_class_model().fit(features, targets)
    logistic = model[-1]
    logistic.coef_ = logistic.coef_.copy()
    return model


def _leave_one_fov_out(features, targets, fovs):
    """Each cluster's class predicted by a model fitted on the other FOVs' clusters (None if impossible)."""
    predicted = np.empty_like(targets)
    for fov in np.unique(fovs):
        held = fovs == fov
        if len(np.unique(targets[~held])) < 2:
            return None
        predicted[held] = _cluster_class_model().fit(features[~held], targets[~held]).predict(features[held])
    return predicted


def shape_targets(y, classes, n_samples):
    """Validate the targets of the shape classifier.

    Parameters
    ----------
    y : array-like of shape (n,)
        Cluster label of every localisation (-1 = background); the ``clusters``
        argument of :meth:`MIROShapeClassifier.fit`.
    classes : array-like of shape (n,)
        Class of every localisation (the ``y`` of :meth:`MIROShapeClassifier.fit`).
    n_samples : int

    Returns
    -------
    clusters : ndarray of shape (n,) of int64
    codes : ndarray of shape (n,) of int64
        Index of every localisation's class in ``classes_``.
    classes_ : ndarray
        The sorted classes.
    background_class : object or None
        The most frequent class of the background localisations (None without background).
    """
    # Here y holds the cluster labels and `classes` the shape classes; the
    # classes are checked first (scikit-learn's conventions for y).
    if classes is None:
        raise ValueError(
            "MIROShapeClassifier requires y to be passed, but the target y is None: pass "
            "the class of every localisation (background included) as y."
        )
    shape_of_y = np.asarray(classes).shape
    if len(shape_of_y) == 2 and shape_of_y[1] == 1:
        # scikit-learn's classifiers accept a column vector with this warning
        # (sklearn.utils.column_or_1d(warn=True)); the classes are used as a 1-D vector.
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape "
            "of y to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=caller_stacklevel(),
        )
    shape = check_label_vector(classes, n_samples, name="y", entry="class")
    check_classification_targets(shape)
    classes_, codes = np.unique(shape, return_inverse=True)
    if len(classes_) < 2:
        raise ValueError(
            f"y has a single class ({classes_[0]!r}); MIROShapeClassifier needs at least 2 "
            "classes (e.g. a background class and one shape)."
        )
    if y is None:  # y: the cluster labels here
        raise ValueError(
            "MIROShapeClassifier.fit needs the cluster label of every localisation "
            "(-1 = background) as clusters=..., besides the class of every localisation "
            "as y: fit(X, y, clusters=clusters, groups=fov)."
        )
    clusters = check_cluster_labels(y, n_samples, name="clusters")
    background = codes[clusters == -1]
    background_class = (
        classes_[np.bincount(background, minlength=len(classes_)).argmax()] if background.size else None
    )
    return clusters, codes.reshape(-1).astype(np.int64), classes_, background_class


def class_attributes(head_classes, background):
    """The fitted class attributes of a shape classifier.

    ``head_classes[k]`` is the class of logit column ``k`` (output ``2 + k``);
    a checkpoint may order them differently from the sorted ``classes_``.

    Returns
    -------
    dict
        ``classes_`` (sorted), ``class_columns_`` (the logit column of each
        class of ``classes_``) and ``background_class_``.
    """
    head_classes = np.asarray(head_classes)
    order = np.argsort(head_classes, kind="stable")
    return {"classes_": head_classes[order], "class_columns_": order, "background_class_": background}


class MIROShapeClassifier(ClassifierMixin, BaseMIRO):
    """MIRO that clusters localisations and classifies the shape of each cluster.

    The network has ``2 + n_classes`` outputs per localisation and recurrent
    step: the displacement to the cluster centre (as :class:`MIROTransformer`)
    and one logit per class, trained with the loss of paper Eq. 7 (the
    clustering loss plus ``beta`` times the cross-entropy of the classes,
    averaged over the steps). It is a scikit-learn classifier of
    **localisations**: ``predict`` gives the class of every localisation
    (argmax at the last step), ``predict_proba`` the softmax of the logits and
    ``score`` the accuracy. :meth:`predict_clusters` also clusters the
    collapsed coordinates with DBSCAN (per FOV) and gives every cluster the
    mode of its localisations' classes, as the paper does.

    Labelling the training data: ``y`` holds a class for *every*
    localisation, background included. Give the background localisations
    (those with ``clusters == -1``) a class of their own, e.g.
    ``"background"`` as :func:`sklearn_miro.datasets.make_multishape` does;
    it becomes one of ``classes_`` (the reference model's class 0), and the
    network learns to predict it. The cluster labels go in ``clusters=``.

    Parameters
    ----------
    beta : float, default=0.1
        Weight of the cross-entropy term (paper Eq. 7; 0.1 in the reference
        and for spots + ellipses, 0.05 for the other mixtures of Table S7).
    eps : float or "auto", default="auto"
        DBSCAN radius (units of X) used by :meth:`predict_clusters` on the
        collapsed coordinates; ``"auto"`` chooses it on the training FOVs like
        :class:`MIROClusterer` does, with the macro F1 of the cluster classes
        added to the score (the mean of ARI-dagger, JI_c and F1 is maximised).
    min_samples : int or "auto", default="auto"
        DBSCAN ``min_samples``; ``"auto"`` as for ``eps``.
    border_points : {"auto", "cluster", "background"}, default="auto"
        Where DBSCAN's border points go: ``"cluster"`` is DBSCAN,
        ``"background"`` is DBSCAN* (:class:`~sklearn_miro.grid_dbscan.DBSCANStar`:
        only core points and their connections make clusters). ``"auto"``
        searches ``eps`` / ``min_samples`` with both on the training FOVs and
        keeps the better score (a tie goes to DBSCAN), as
        :class:`MIROClusterer` does.
    cluster_classes : {"auto", "vote", "descriptors"}, default="auto"
        How a cluster found by DBSCAN gets its class. ``"vote"``: the most
        frequent class the network predicts for its localisations (the
        paper). ``"descriptors"``: a standardised logistic regression over
        the cluster's geometry in the original coordinates (log count, log
        radius of gyration, minor / major axis ratio, radial spread, arc
        resultant; see :func:`~sklearn_miro.analysis.cluster_table`) and the
        network's vote (fraction of localisations and mean probability per
        class), trained on the clusters DBSCAN finds in the training FOVs,
        each labelled with the most frequent true class of its localisations.
        A cluster it calls background is dissolved (its localisations become
        background). ``"auto"``: the descriptors' model when, on the
        training clusters, it classifies more localisations correctly
        leave-one-FOV-out than the vote does (needs two training FOVs or
        more, with ``MIN_CLUSTERS_PER_CLASS`` = 5 clusters of each of two
        classes or more), else the vote.
    hidden_size, n_steps, connectivity_radius, length_scale, \
eigenvector_normalization, fov_normalization, alpha, learning_rate, \
lr_schedule, max_epochs, n_augmented, batch_size, augmentation, \
validation_fraction, n_iter_no_change, device, random_state, verbose, \
tile_size, crop_features, n_jobs, precision, compile
        As for :class:`MIROTransformer`, except that ``n_steps`` defaults to
        20 (the authors' multishape model, Table S7), and that ``n_jobs`` also
        scores the DBSCAN candidates of ``fit`` in parallel.
        There is no pretrained shape model: training starts from random
        weights, so the schedule parameters left at ``"auto"`` take
        ``FROM_SCRATCH_SCHEDULE``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The classes seen in ``fit`` (sorted), background class included.
    background_class_ : object or None
        The most frequent class of the training localisations that are in no
        cluster (``clusters == -1``); None when every training localisation is
        in a cluster. Localisations that end up in no cluster, and isolated
        localisations (no neighbour closer than the connectivity radius),
        get this class.
    eps_, min_samples_ : float, int
        DBSCAN parameters of :meth:`predict_clusters`.
    border_points_ : {"cluster", "background"}
        The border-point rule used: DBSCAN or DBSCAN*.
    border_point_scores_ : dict or None
        With ``border_points="auto"``: the best training score of each rule.
    cluster_classes_ : {"vote", "descriptors"}
        How :meth:`predict_clusters` classifies a cluster.
    cluster_class_scores_ : dict or None
        With ``cluster_classes="auto"`` when both rules could be compared:
        the training-cluster accuracy (weighted by size) of the vote and,
        leave-one-FOV-out, of the descriptors' model.
    cluster_classifier_ : Pipeline or None
        The fitted scaler + logistic regression over
        :func:`cluster_descriptors` when ``cluster_classes_ == "descriptors"``.
    tuning_scores_ : ndarray or None
        Training score of every DBSCAN candidate (``eps_grid_`` x
        ``min_samples_grid_``) when the parameters were chosen automatically.
    network_, connectivity_radius_, length_scale_, distance_unit_, \
fov_density_, n_fovs_, loss_curve_, validation_loss_curve_, n_epochs_, \
best_epoch_, training_time_, training_compression_, training_relative_loss_, \
started_from_, thinned_background_, retry_relative_loss_, retry_compression_, \
training_precision_, training_compiled_, \
device_, n_features_in_, feature_names_in_
        As for :class:`MIROTransformer`.

    Notes
    -----
    Metadata routing: ``fit`` requests ``clusters`` and ``groups`` and
    ``predict``, ``predict_proba`` and ``score`` request ``groups`` by
    default, so that with ``sklearn.set_config(enable_metadata_routing=True)``
    meta-estimators such as ``cross_validate`` pass them through.

    The F1 score of the paper's Tables S8 and S9 gives every localisation the
    class of its cluster (background outside clusters):
    ``sklearn.metrics.f1_score(y_true, clf.predict_clusters(X, groups)[1], average="macro")``.
    ``clf.predict`` instead gives each localisation its own argmax class.

    Examples
    --------
    >>> from sklearn_miro import MIROShapeClassifier
    >>> from sklearn_miro.datasets import make_multishape
    >>> X, y, fov, shape = make_multishape(("spot", "ellipse"), n_fovs=4, random_state=0)
    >>> clf = MIROShapeClassifier(random_state=0)
    >>> clf.fit(X, shape, clusters=y, groups=fov)  # doctest: +SKIP
    >>> clf.predict(X_new)  # per-localisation classes  # doctest: +SKIP
    >>> labels, cluster_class = clf.predict_clusters(X_new)  # doctest: +SKIP
    """

    __metadata_request__fit = {"clusters": True, "groups": True}
    __metadata_request__predict = {"groups": True}
    __metadata_request__predict_proba = {"groups": True}
    __metadata_request__score = {"groups": True}

    def __init__(
        self,
        *,
        beta=0.1,
        eps="auto",
        min_samples="auto",
        border_points="auto",
        cluster_classes="auto",
        hidden_size=_D["hidden_size"],
        n_steps=MULTISCALE_N_STEPS,
        connectivity_radius=_D["connectivity_radius"],
        length_scale=_D["length_scale"],
        eigenvector_normalization=_D["eigenvector_normalization"],
        fov_normalization=_D["fov_normalization"],
        alpha=_D["alpha"],
        learning_rate=_D["learning_rate"],
        lr_schedule=_D["lr_schedule"],
        max_epochs=_D["max_epochs"],
        n_augmented=_D["n_augmented"],
        batch_size=_D["batch_size"],
        augmentation=_D["augmentation"],
        validation_fraction=_D["validation_fraction"],
        n_iter_no_change=_D["n_iter_no_change"],
        device=_D["device"],
        random_state=_D["random_state"],
        verbose=_D["verbose"],
        tile_size=_D["tile_size"],
        crop_features=_D["crop_features"],
        n_jobs=_D["n_jobs"],
        precision=_D["precision"],
        compile=_D["compile"],
    ):
        super().__init__(
            hidden_size=hidden_size,
            n_steps=n_steps,
            connectivity_radius=connectivity_radius,
            length_scale=length_scale,
            eigenvector_normalization=eigenvector_normalization,
            fov_normalization=fov_normalization,
            alpha=alpha,
            learning_rate=learning_rate,
            lr_schedule=lr_schedule,
            max_epochs=max_epochs,
            n_augmented=n_augmented,
            batch_size=batch_size,
            augmentation=augmentation,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            device=device,
            random_state=random_state,
            verbose=verbose,
            tile_size=tile_size,
            crop_features=crop_features,
            n_jobs=n_jobs,
            precision=precision,
            compile=compile,
        )
        self.beta = beta
        self.eps = eps
        self.min_samples = min_samples
        self.border_points = border_points
        self.cluster_classes = cluster_classes

    # ---- fitting --------------------------------------------------------------
    _parameter_constraints: dict = {
        **BaseMIRO._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "eps": EPS_CONSTRAINTS,
        "min_samples": MIN_SAMPLES_CONSTRAINTS,
        "border_points": [StrOptions({"auto", "cluster", "background"})],
        "cluster_classes": [StrOptions({"auto", "vote", "descriptors"})],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, clusters=None, groups=None):
        """Train on FOVs labelled with clusters and per-localisation classes.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates (usually nm).
        y : array-like of shape (n_localizations,)
            Class of every localisation (strings or integers), background
            localisations included: give them their own class, e.g.
            ``"background"``. At least 2 classes.
        clusters : array-like of shape (n_localizations,)
            Cluster label of every localisation, -1 for background. Required.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; absent means one FOV.

        Returns
        -------
        self : MIROShapeClassifier
        """
        options = self._augmentation_options()
        X, groups, fov_indices = self._validate_fit_input(X, groups)
        clusters, codes, classes_, background = shape_targets(clusters, y, X.shape[0])
        for name, value in class_attributes(classes_, background).items():
            setattr(self, name, value)
        config = self._training_config(options, n_outputs=2 + len(classes_), beta=self.beta)
        self._fit_model(X, clusters[:, None], groups, fov_indices, config, classes=codes)
        return self._fit_clustering(X, clusters, codes, fov_indices)

    def _fit_clustering(self, X, clusters, codes, fov_indices):
        """After training: DBSCAN's parameters and rule, then the cluster-class model."""
        collapsed = self._collapse(X, fov_indices, [self.model_.n_steps - 1])
        proba = self._probabilities(collapsed)
        moved = collapsed.moved[0]
        self._choose_dbscan(X, clusters, codes, fov_indices, moved, proba.argmax(axis=1))
        self._fit_cluster_classes(X, codes, proba, moved, fov_indices)
        return self

    def _dbscan(self):
        return dbscan_template(self.eps_, self.min_samples_, core_only=self.border_points_ == "background")

    def _choose_dbscan(self, X, clusters, codes, fov_indices, moved, predicted):
        """DBSCAN parameters and border-point rule of predict_clusters, chosen on the training FOVs.

        The score of a candidate is the mean of ARI-dagger, JI_c and the macro
        F1 of the cluster classes (the mode of the network's classes in each
        cluster) over the training FOVs. Without F1, the choice favoured tight
        clusters that leave shape localisations as noise, hence background: on
        spots + ellipses (2 seeds, 10 test FOVs) adding F1 raised the test F1
        by 0.03-0.10 and ARI-dagger by 0.02-0.03 for JI_c 0.006-0.036 lower
        (``benchmarks/shape_dbscan_scan.py``). With ``border_points="auto"``
        the search runs for DBSCAN and for DBSCAN* (border points as
        background); the better score wins, a tie goes to DBSCAN.
        """
        self.tuning_scores_ = self.eps_grid_ = self.min_samples_grid_ = self.border_point_scores_ = None
        options = AUTO_BORDER_POINTS if self.border_points == "auto" else (self.border_points,)
        self.border_points_ = options[0]
        if not (is_auto(self.eps) or is_auto(self.min_samples)) and len(options) == 1:
            self.eps_, self.min_samples_ = float(self.eps), int(self.min_samples)
            return

        def class_f1(idx):
            return lambda labels: f1_score(
                codes[idx], self._cluster_class_codes(labels, predicted[idx]), average="macro"
            )

        memo = {}  # a labelling met by both rules is scored once
        X_fovs = [X[idx] for idx in fov_indices]
        self.border_points_, (eps, ms, scores, e_grid, m_grid), rule_scores = search_border_rules(
            lambda core_only_options, bar: choose_dbscan_parameters_rules(
                X_fovs, [moved[idx] for idx in fov_indices],
                [clusters[idx] for idx in fov_indices],
                radius_in_units_of_x(self.model_, X, fov_indices),
                self.eps, self.min_samples, extra_scores=[class_f1(idx) for idx in fov_indices],
                n_jobs=self.n_jobs, progress=bar, core_only_options=core_only_options, memo=memo,
                fov_weights=fov_area_weights(X_fovs),
            ),
            options, "MIRO: choosing the parameters of {dbscan}", self.verbose,
        )  # fmt: skip
        if len(options) > 1:
            self.border_point_scores_ = rule_scores
        self.eps_, self.min_samples_ = float(eps), int(ms)
        self.tuning_scores_, self.eps_grid_, self.min_samples_grid_ = scores, e_grid, m_grid

    def _fit_cluster_classes(self, X, codes, proba, moved, fov_indices):
        """Learn the class of a cluster from its descriptors, on the training FOVs' DBSCAN clusters.

        Every cluster DBSCAN finds in the training FOVs (with the chosen
        parameters) is one example: its :func:`cluster_descriptors` and, as
        target, the most frequent true class of its localisations (the
        background class too: such a cluster is dissolved at prediction). A
        standardised multinomial logistic regression learns the mapping.

        ``"auto"`` compares the two rules on the training clusters, each
        weighted by its number of localisations: the vote's accuracy against
        the model's accuracy on every FOV when it was fitted on the other FOVs
        (leave-one-FOV-out, so that it is scored on clusters it did not see).
        The model is used only if it is strictly more accurate; it needs two
        training FOVs or more and ``MIN_CLUSTERS_PER_CLASS`` training clusters
        of each of two classes or more. The vote's accuracy is measured on
        the FOVs the network was trained on, so the comparison favours the
        vote: a tie or a near tie keeps the paper's rule.
        """
        self.cluster_classifier_ = None
        self.cluster_classes_ = "vote"
        self.cluster_class_scores_ = None
        if self.cluster_classes == "vote":
            return  # the training FOVs need not be clustered again
        labels = cluster_per_fov(fov_indices, [moved[idx] for idx in fov_indices], self._dbscan(), X.shape[0])
        cluster_fov = np.empty(X.shape[0], dtype=np.int64)
        for k, idx in enumerate(fov_indices):
            cluster_fov[idx] = k
        cluster_of, features = cluster_descriptors(X, labels, proba)
        inside = cluster_of >= 0
        n_classes = len(self.classes_)
        targets = votes = fovs = np.zeros(0, dtype=np.int64)
        if inside.any():
            first = np.unique(cluster_of[inside], return_index=True)[1]
            targets = mode_per_cluster(labels, codes, n_classes)[inside][first]
            votes = mode_per_cluster(labels, proba.argmax(axis=1), n_classes)[inside][first]
            fovs = cluster_fov[inside][first]
        counts = np.bincount(targets, minlength=n_classes)
        if self.cluster_classes == "descriptors" and np.count_nonzero(counts) < 2:
            raise ValueError(
                "cluster_classes='descriptors' learns the class of a cluster from the clusters "
                f"DBSCAN finds in the training FOVs, but those {len(targets)} clusters have "
                f"{np.count_nonzero(counts)} class(es); it needs at least 2. Label more clusters, "
                "or use cluster_classes='vote' (the mode of the localisations' classes)."
            )
        if self.cluster_classes == "auto":
            if np.sum(counts >= MIN_CLUSTERS_PER_CLASS) < 2 or len(np.unique(fovs)) < 2:
                return
            held_out = _leave_one_fov_out(features, targets, fovs)
            if held_out is None:  # a FOV held out left a single class to learn from
                return
            size = np.bincount(cluster_of[inside]).astype(float)
            self.cluster_class_scores_ = {
                "vote": float(np.sum(size * (votes == targets)) / size.sum()),
                "descriptors": float(np.sum(size * (held_out == targets)) / size.sum()),
            }
            if self.cluster_class_scores_["descriptors"] <= self.cluster_class_scores_["vote"]:
                return
        self.cluster_classifier_ = _fitted_cluster_class_model(features, targets)
        self.cluster_classes_ = "descriptors"

    # ---- inference --------------------------------------------------------------
    def _outputs(self, X, groups):
        """Collapsed coordinates and class probabilities at the last step."""
        X, groups, fov_indices = self._prepare_predict_input(X, groups)
        collapsed = self._collapse(X, fov_indices, [self.model_.n_steps - 1])
        return X, fov_indices, collapsed.moved[0], self._probabilities(collapsed)

    def _probabilities(self, collapsed):
        """Class probabilities (columns in ``classes_`` order) from a collapse's outputs."""
        logits = collapsed.outputs[0][:, 2:][:, self.class_columns_]
        proba = _softmax(logits)
        # Localisations without any graph neighbour carry no information
        # about a cluster: background.
        isolated = ~collapsed.connected
        if isolated.any():
            if self.background_class_ is not None:
                proba[isolated] = 0.0
                proba[isolated, self._background_code()] = 1.0
            else:
                proba[isolated] = 1.0 / len(self.classes_)
        return proba

    def _background_code(self):
        return int(np.flatnonzero(self.classes_ == self.background_class_)[0])

    def _cluster_class_codes(self, labels, predicted):
        """Class code of every localisation's cluster: the mode of ``predicted`` per cluster.

        Localisations in no cluster get the background class (their own
        prediction when the training data had no background).
        """
        codes = mode_per_cluster(labels, predicted, len(self.classes_))
        if self.background_class_ is not None:
            codes[labels == -1] = self._background_code()
        return codes

    def predict_proba(self, X, groups=None):
        """Class probabilities of every localisation (softmax of the last step's logits).

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; each FOV is its own graph.

        Returns
        -------
        proba : ndarray of shape (n_localizations, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._outputs(X, groups)[3]

    def predict(self, X, groups=None):
        """Class of every localisation (argmax of the last step's logits).

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional

        Returns
        -------
        classes : ndarray of shape (n_localizations,)
            Elements of ``classes_``.
        """
        proba = self.predict_proba(X, groups)
        return self.classes_[proba.argmax(axis=1)]

    def predict_clusters(self, X, groups=None):
        """Cluster new FOVs and classify every cluster by the mode of its localisations.

        One forward pass per FOV gives the collapsed coordinates and the class
        probabilities; DBSCAN (``eps_``, ``min_samples_``, DBSCAN* when
        ``border_points_ == "background"``) clusters the collapsed coordinates
        of every FOV on its own; every localisation of a cluster then gets the
        cluster's class: the most frequent predicted class of the cluster
        (ties: the first in ``classes_``) with ``cluster_classes_ == "vote"``
        (a cluster whose most frequent class is the background class keeps its
        label, and its class is then ``background_class_``: count shapes from
        ``cluster_classes``, not from ``labels``), the cluster-class model's
        prediction from :func:`cluster_descriptors` with ``"descriptors"`` (a
        cluster it calls background is dissolved).
        Localisations in no cluster get ``background_class_`` (their own
        prediction when the training data had no background).

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional

        Returns
        -------
        labels : ndarray of shape (n_localizations,)
            Cluster labels, -1 for background, unique across FOVs.
        cluster_classes : ndarray of shape (n_localizations,)
            Class of the cluster of every localisation (elements of
            ``classes_``). ``pandas.Series(cluster_classes).groupby(labels).first()``
            gives one class per cluster.
        """
        check_is_fitted(self, "model_")
        X, fov_indices, collapsed, proba = self._outputs(X, groups)
        labels = cluster_per_fov(fov_indices, [collapsed[idx] for idx in fov_indices], self._dbscan(), X.shape[0])
        codes = self._cluster_class_codes(labels, proba.argmax(axis=1))
        if self.cluster_classifier_ is not None:
            cluster_of, features = cluster_descriptors(X, labels, proba)
            inside = cluster_of >= 0
            if inside.any():
                codes[inside] = self.cluster_classifier_.predict(features)[cluster_of[inside]]
            if self.background_class_ is not None:  # a cluster classified as background is dissolved
                labels = np.where(inside & (codes == self._background_code()), -1, labels)
        return labels, self.classes_[codes]

    def predict_table(self, X, groups=None):
        """Cluster and classify new FOVs; one row of statistics per cluster.

        :meth:`predict_clusters` followed by
        :func:`sklearn_miro.analysis.cluster_table` with a ``shape`` column:
        the class of every cluster.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional

        Returns
        -------
        table : pandas.DataFrame
        """
        labels, classes = self.predict_clusters(X, groups=groups)
        return cluster_table(X, labels, groups, shapes=classes, check_units=False)

    def collapse(self, X, groups=None):
        """Collapsed coordinates (last step), as ``MIROTransformer.transform`` gives them."""
        X, _, fov_indices = self._prepare_predict_input(X, groups)
        return self._collapse(X, fov_indices, [self.model_.n_steps - 1]).moved[0]

    def score(self, X, y, sample_weight=None, groups=None):
        """Accuracy of the per-localisation classes (:meth:`predict`) against y."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, groups=groups), sample_weight=sample_weight)

    def __setstate__(self, state):
        # Classifiers pickled before border_points and cluster_classes existed
        # cluster with DBSCAN and take the vote, as they did.
        state = dict(state)
        state.setdefault("border_points", "cluster")
        state.setdefault("cluster_classes", "vote")
        if "model_" in state or "_network_state" in state:  # fitted attributes only when fitted
            state.setdefault("border_points_", "cluster")
            state.setdefault("cluster_classes_", "vote")
            state.setdefault("cluster_classifier_", None)
            state.setdefault("cluster_class_scores_", None)
            state.setdefault("border_point_scores_", None)
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

