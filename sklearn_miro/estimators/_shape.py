"""MIROShapeClassifier: cluster SMLM point clouds and classify the shape of every cluster.

Paper, "Simultaneous clustering and classification of different shapes" and
Eq. 7: besides the displacement, the network predicts class logits for every
localisation at every recurrent step, trained with a cross-entropy term of
weight ``beta``. The class of a cluster is the mode of the classes predicted
for its localisations.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import f1_score
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..analysis import cluster_table
from ..clustering import (
    EPS_CONSTRAINTS,
    MIN_SAMPLES_CONSTRAINTS,
    choose_dbscan_parameters,
    dbscan_per_fov,
    is_auto,
)
from .._validation import check_cluster_labels, check_label_vector
from ..model import progress_bar
from ._base import MULTISCALE_N_STEPS, NETWORK_DEFAULTS, BaseMIRO

__all__ = ["MIROShapeClassifier", "class_attributes", "mode_per_cluster", "shape_targets"]

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
    hidden_size, n_steps, connectivity_radius, length_scale, \
eigenvector_normalization, fov_normalization, alpha, learning_rate, \
lr_schedule, max_epochs, n_augmented, batch_size, augmentation, \
validation_fraction, n_iter_no_change, device, random_state, verbose, \
tile_size, crop_features, n_jobs, precision
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
    tuning_scores_ : ndarray or None
        Training score of every DBSCAN candidate (``eps_grid_`` x
        ``min_samples_grid_``) when the parameters were chosen automatically.
    network_, connectivity_radius_, length_scale_, distance_unit_, \
fov_density_, n_fovs_, loss_curve_, validation_loss_curve_, n_epochs_, \
best_epoch_, training_time_, device_, n_features_in_, feature_names_in_
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
        )
        self.beta = beta
        self.eps = eps
        self.min_samples = min_samples

    # ---- fitting --------------------------------------------------------------
    _parameter_constraints: dict = {
        **BaseMIRO._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "eps": EPS_CONSTRAINTS,
        "min_samples": MIN_SAMPLES_CONSTRAINTS,
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
        self._choose_dbscan(X, clusters, codes, fov_indices)
        return self

    def _choose_dbscan(self, X, clusters, codes, fov_indices):
        """DBSCAN parameters of predict_clusters, chosen on the training FOVs when "auto".

        The score of a candidate is the mean of ARI-dagger, JI_c and the macro
        F1 of the cluster classes (what ``predict_clusters`` returns) over the
        training FOVs. Without F1, the choice favoured tight clusters that
        leave shape localisations as noise, hence background: on spots +
        ellipses (2 seeds, 10 test FOVs) adding F1 raised the test F1 by
        0.03-0.10 and ARI-dagger by 0.02-0.03 for JI_c 0.006-0.036 lower
        (``benchmarks/shape_dbscan_scan.py``).
        """
        self.tuning_scores_ = self.eps_grid_ = self.min_samples_grid_ = None
        if not (is_auto(self.eps) or is_auto(self.min_samples)):
            self.eps_, self.min_samples_ = float(self.eps), int(self.min_samples)
            return
        collapsed = self._collapse(X, fov_indices, [self.model_.n_steps - 1])
        predicted = self._probabilities(collapsed).argmax(axis=1)
        moved = collapsed.moved[0]

        def class_f1(idx):
            return lambda labels: f1_score(
                codes[idx], self._cluster_class_codes(labels, predicted[idx]), average="macro"
            )

        with progress_bar(None, "MIRO: choosing DBSCAN's parameters", self.verbose) as bar:
            eps, ms, scores, e_grid, m_grid = choose_dbscan_parameters(
                [X[idx] for idx in fov_indices], [moved[idx] for idx in fov_indices],
                [clusters[idx] for idx in fov_indices], self.model_.connectivity_radius,
                self.eps, self.min_samples, extra_scores=[class_f1(idx) for idx in fov_indices],
                n_jobs=self.n_jobs, progress=bar,
            )  # fmt: skip
        self.eps_, self.min_samples_ = eps, ms
        self.tuning_scores_, self.eps_grid_, self.min_samples_grid_ = scores, e_grid, m_grid

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
        probabilities; DBSCAN (``eps_``, ``min_samples_``) clusters the
        collapsed coordinates of every FOV on its own; every localisation of a
        cluster then gets the most frequent predicted class of the cluster
        (ties: the first in ``classes_``). Localisations that DBSCAN leaves in
        no cluster get ``background_class_`` (their own prediction when the
        training data had no background).

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
        labels = dbscan_per_fov(
            fov_indices, [collapsed[idx] for idx in fov_indices], self.eps_, self.min_samples_, X.shape[0]
        )
        return labels, self.classes_[self._cluster_class_codes(labels, proba.argmax(axis=1))]

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
        return cluster_table(X, labels, groups, shapes=classes)

    def collapse(self, X, groups=None):
        """Collapsed coordinates (last step), as ``MIROTransformer.transform`` gives them."""
        X, _, fov_indices = self._prepare_predict_input(X, groups)
        return self._collapse(X, fov_indices, [self.model_.n_steps - 1]).moved[0]

    def score(self, X, y, sample_weight=None, groups=None):
        """Accuracy of the per-localisation classes (:meth:`predict`) against y."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, groups=groups), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

