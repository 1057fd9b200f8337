"""MIROClusterer: MIRO followed by DBSCAN (or any clusterer), per field of view."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..analysis import cluster_table
from ..domain import skip_domain_checks
from .._validation import (
    caller_stacklevel,
    check_cluster_labels,
    check_coordinates,
    check_groups,
    check_pass_count,
    split_by_group,
    warn_if_zero_is_background,
)
from ..clustering import (
    AUTO_OUTLIER_RADII,
    EPS_CONSTRAINTS,
    MIN_SAMPLES_CONSTRAINTS,
    choose_dbscan_parameters_rules,
    cluster_fov,
    cluster_per_fov,
    dbscan_per_fov_scaled,
    dbscan_template,
    fov_area_weights,
    fov_median,
    inner_transformer,
    is_auto,
    is_fitted,
    stack_fov_labels,
    trim_clusters,
    tune_dbscan,
)
from ..metrics import ari_dagger_ji_c_ami
from ..parallel import map_fovs, progress_bar
from ..pretrained import ZERO_SHOT_MODEL, PretrainedMIRO
from ._base import (
    AUTO_BORDER_POINTS,
    NestedTransformerParamsMixin,
    check_transformer_kind,
    radius_in_units_of_x,
    search_border_rules,
)
from ._transformer import MIROTransformer

__all__ = ["MIROClusterer", "collapse_repeatedly", "predict_fov", "tune_dbscan"]


def collapse_repeatedly(transformer, X_fov, n_passes=1, *, collapsed=False, one_fov=False):
    """The network applied ``n_passes`` times to one FOV (each pass on the last one's output).

    ``transformer.transform(X_fov, passes=n_passes)``: every pass keeps the
    first one's units (for a pretrained transformer, the FOV's cluster radius
    and mean spacing, which an estimate on collapsed points would get wrong),
    and only the user's coordinates are checked against the training data
    (units, stacked FOVs).

    ``collapsed=True``: ``X_fov`` is already a fitted transformer's output, and
    the passes continue from it (with the checks skipped, through
    :func:`sklearn_miro.domain.skip_domain_checks`, which is thread-safe: the
    network has brought the localisations together on purpose). A pretrained
    transformer cannot continue that way, since its units come from the
    original coordinates: pass those with the total number of passes.

    ``one_fov=True`` says that ``X_fov`` is one FOV of the user's ``groups``:
    it is then given to the transformer as one group, so the units are checked
    but several stacked FOVs are not suspected.
    """
    n_passes = check_pass_count(n_passes, "n_passes", 0, "0: X_fov unchanged")
    if n_passes == 0:
        return X_fov
    # passes= only when it matters, so that a subclass whose transform predates it
    # still serves one pass.
    more = {"passes": n_passes} if n_passes > 1 else {}
    if not collapsed:
        groups = np.zeros(len(X_fov), dtype=np.int64) if one_fov else None
        return transformer.transform(X_fov, groups=groups, **more)
    if _is_pretrained(transformer):
        raise ValueError(
            "collapse_repeatedly(collapsed=True) continues from a fitted transformer's output; a "
            "pretrained transformer takes its units from the original coordinates: pass them with "
            "the total number of passes instead."
        )
    with skip_domain_checks():
        return transformer.transform(X_fov, **more)


def label_free_fov(model, X_fov, cluster_radius, min_samples, verbose, tile_size, crop_features, n_passes=1):
    """A pretrained model's zero-shot work on one FOV.

    Returns ``(collapsed, cluster radius, min_samples, blinks)``. One
    pair-correlation fit serves the cluster radius (unless ``cluster_radius``
    is given) and ``min_samples`` (unless given); ``blinks`` is whether it
    shows repeated localisations of one molecule (None when no fit was made).
    ``n_passes`` runs of the network, all in the first one's units.
    """
    fit = model.pair_correlation_fit(X_fov) if cluster_radius is None or min_samples is None else None
    moved, radius = model.collapse_fov(X_fov, cluster_radius, fit=fit, verbose=verbose,
                                       tile_size=tile_size, crop_features=crop_features, passes=n_passes)
    if min_samples is None:
        min_samples = model.dbscan_min_samples(X_fov, fit=fit)
    blinks = None if fit is None else bool(fit.repeat_neighbours > 0)
    return moved, radius, int(min_samples), blinks


def warn_if_blinking_model_without_blinking(model, blinks):
    """Warn when a model trained on blinking data only meets FOVs whose pair correlation shows none.

    ``blinks``: per FOV, :func:`label_free_fov`'s answer (None: not tested).
    Why: with no repeated localisations the clusters are a few times smaller
    in localisations than the model's rule expects; on the benchmark's
    scenarios without blinking it found almost none of them.
    """
    tested = [b for b in blinks if b is not None]
    if not model.trained_on_blinking or not tested:
        return
    without = len(tested) - sum(tested)
    if without * 2 <= len(tested):
        return
    warnings.warn(
        f"The pretrained model {model.name!r} was trained on data with multiple blinking only, but "
        f"the pair correlation of {without} of {len(tested)} FOV(s) shows no repeated localisations "
        "of one molecule. On the benchmark's scenarios without blinking this model found almost "
        f"none of the clusters (doc/pretrained.md); use {ZERO_SHOT_MODEL!r} for such data. The test "
        "can miss the blinking of sparse data: if your fluorophores blink, ignore this warning.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def predict_fov(transformer, clusterer, X_fov, n_passes=1, one_fov=False):
    """Labels of one FOV: :func:`collapse_repeatedly` then :func:`~sklearn_miro.clustering.cluster_fov`."""
    return cluster_fov(clusterer, collapse_repeatedly(transformer, X_fov, n_passes, one_fov=one_fov))


#: Numbers of passes ``collapse_passes="auto"`` chooses from (increasing).
#: A third pass was measured and not kept (``benchmarks/README.md``, tenth session).
AUTO_COLLAPSE_PASSES = (1, 2)



class MIROClusterer(ClusterMixin, NestedTransformerParamsMixin, BaseEstimator):
    """MIRO followed by DBSCAN (or any scikit-learn clusterer), per field of view.

    ``fit`` trains the MIRO transformer on labelled FOVs (unless an already
    fitted transformer is given), chooses the DBSCAN parameters on the
    collapsed training FOVs when asked to (``eps="auto"``), and clusters the
    training FOVs; ``predict`` collapses and clusters new FOVs. Every FOV is
    clustered on its own, because FOVs share one coordinate range.

    Parameters
    ----------
    transformer : MIROTransformer or None, default=None
        The MIRO transformer. ``None`` uses ``MIROTransformer()``; set its
        hyper-parameters with ``transformer=MIROTransformer(...)``, then
        ``set_params(transformer__n_steps=...)`` works too (not while
        ``transformer`` is None: there is no transformer to set them on). An already fitted transformer
        (such as ``MIROTransformer.pretrained()``) is used as is and never
        retrained, so changing ``eps`` or ``min_samples`` costs only the
        clustering. ``clone`` (which ``GridSearchCV`` and ``cross_validate``
        call on every fit) keeps a pretrained model
        (:meth:`MIROTransformer.pretrained`, not fitted with labels since)
        pretrained, so ``GridSearchCV(MIROClusterer(MIROTransformer.pretrained()),
        {"eps": ..., "min_samples": ...})`` tunes DBSCAN without any
        training, and its best estimator's transformer is that pretrained
        model. Of any other fitted transformer, ``clone`` returns an unfitted
        copy, which ``fit`` would then train: wrap it in
        :class:`sklearn.frozen.FrozenEstimator`, e.g.
        ``MIROClusterer(FrozenEstimator(miro))``, to keep it fitted through
        cloning. To fine-tune a pretrained model on the labels, pass
        ``MIROTransformer(init=name)`` (trained on every ``fit``), or a
        pretrained transformer fitted with labels (then frozen as above, for
        grid searches). Pass ``clone(transformer)`` to retrain one.
    collapse_passes : int >= 1 or "auto", default="auto"
        How many times the transformer is applied before clustering, each
        pass on the previous one's output: a second pass of the same network
        tightens the clusters the first left loose, while background, which
        the first pass left nearly in place, stays. ``"auto"`` chooses 1 or 2
        on the labelled training FOVs with the same score as ``eps`` (see
        Notes); it is 1 without labels and with a custom ``clusterer``. For
        a pretrained transformer used without labels it is the model's
        label-free rule (its card's ``collapse_passes``: 2 for the zero-shot
        default ``"nanoclusters-long"``, 1 for the other shipped models), and
        an integer overrides it; every pass then works in the first one's
        units (the FOV's cluster radius and mean spacing). Two passes double
        the cost of collapsing a FOV.
    eps : float or "auto", default="auto"
        DBSCAN radius in the units of X, applied to the collapsed coordinates.
        ``"auto"`` chooses it on the labelled training FOVs (see Notes); with
        a pretrained transformer (:meth:`MIROTransformer.pretrained`) and no
        labels, it is the model's label-free rule, per FOV: a fixed multiple
        of the FOV's cluster length scale.
    min_samples : int or "auto", default="auto"
        DBSCAN ``min_samples``; ``"auto"`` as for ``eps``.
    border_points : {"auto", "cluster", "background"}, default="auto"
        What becomes of DBSCAN's border points (within ``eps`` of a core
        point, with fewer than ``min_samples`` neighbours) on the collapsed
        coordinates. ``"cluster"``: they join the cluster (DBSCAN).
        ``"background"``: they stay background, so only core points form
        clusters (DBSCAN*, :class:`sklearn_miro.grid_dbscan.DBSCANStar`); a
        background localisation the network left in place next to a
        collapsed cluster is then not absorbed by it. ``"auto"`` chooses on
        the labelled training FOVs, together with ``collapse_passes`` (see
        Notes); it is ``"cluster"`` without labels (on zero-shot collapses
        DBSCAN* lowered ARI-dagger in 7 of 10 benchmark scenarios,
        ``doc/pretrained.md``) or with a custom ``clusterer``.
    outlier_radius : float > 0, "auto" or None, default="auto"
        After clustering, a localisation farther than this from the mean of
        its cluster, in the cluster's own Mahalanobis distance on the
        original coordinates, becomes background
        (:func:`sklearn_miro.clustering.trim_clusters`): background
        localisations the network moved into a cluster from beside it are
        let go, while an elongated cluster keeps its ends. ``None`` keeps
        every localisation. ``"auto"`` chooses None, 3.5, 3.0 or 2.5 on the
        labelled training FOVs with the same score as ``eps`` (see Notes; a
        tie keeps more localisations); it is None without labels or with a
        custom ``clusterer``.
    clusterer : estimator, default=None
        Any scikit-learn clusterer with ``fit_predict``, used instead of
        DBSCAN; it is cloned for every FOV. ``eps`` and ``min_samples`` are then
        ignored.
    n_jobs : int or None, default=None
        FOVs collapsed and clustered in parallel by ``predict`` (``fit``
        clusters the FOVs and scores its DBSCAN candidates in parallel), with
        joblib: None means 1 unless inside a
        :func:`joblib.parallel_config` context (which also selects the
        backend, e.g. Dask, see ``doc/scaling.md``), -1 all cores. Each task
        runs torch on one thread. A FOV of more than 10,000 localisations is
        clustered by :func:`sklearn_miro.grid_dbscan.grid_dbscan` when the
        clusterer is DBSCAN: the same labels in bounded memory.

    Attributes
    ----------
    transformer_ : MIROTransformer or FrozenEstimator
        The fitted transformer used.
    clusterer_ : estimator
        Unfitted template of the clusterer applied to every FOV.
    eps_, min_samples_ : float, int
        DBSCAN parameters used (``None`` with a custom ``clusterer``).
    collapse_passes_ : int
        Number of transformer passes used before clustering.
    collapse_pass_scores_ : dict or None
        With ``collapse_passes="auto"`` and labels: the best training score
        reached with each number of passes; None otherwise.
    border_points_ : {"cluster", "background"}
        The border-point rule used: ``clusterer_`` is a
        :class:`~sklearn.cluster.DBSCAN` for ``"cluster"`` and a
        :class:`~sklearn_miro.grid_dbscan.DBSCANStar` for ``"background"``.
    border_point_scores_ : dict or None
        With ``border_points="auto"`` and labels: the best training score
        reached with each rule; None otherwise.
    outlier_radius_ : float or None
        The Mahalanobis radius beyond which localisations leave their
        cluster; None: no trimming.
    outlier_radius_scores_ : dict or None
        With ``outlier_radius="auto"`` and labels: the training score of
        every candidate radius (None for no trimming); None otherwise.
    tuning_scores_ : ndarray of shape (n_eps, n_min_samples) or None
        Training score of every candidate when parameters were chosen
        automatically; the candidates are ``eps_grid_`` and
        ``min_samples_grid_``.
    labels_ : ndarray of shape (n_localizations,)
        Cluster labels of the training data, -1 for background; unique across
        FOVs.
    cluster_table_ : pandas.DataFrame
        One row of statistics per training cluster
        (:func:`sklearn_miro.analysis.cluster_table`); :meth:`predict_table`
        gives it for new FOVs.
    label_free_ : bool
        True when ``fit`` got no labels and a pretrained transformer: every
        FOV (in ``fit`` and ``predict``) gets its own cluster length scale,
        ``eps`` and ``min_samples`` (the model card's rule,
        :meth:`~sklearn_miro.pretrained.PretrainedMIRO.dbscan_min_samples`); ``eps_``
        and ``min_samples_`` are then the medians over the ``fit`` FOVs.
    cluster_radius_, cluster_radii_ : float, ndarray or None
        Label-free mode: median and per-FOV cluster length scale (RMS
        radius, units of X) used in ``fit``; None otherwise.
    min_samples_per_fov_ : ndarray of int or None
        Label-free mode: the ``min_samples`` of every ``fit`` FOV; None
        otherwise.
    n_features_in_ : int
        Always 2.

    Notes
    -----
    With ``eps="auto"`` or ``min_samples="auto"`` the parameters maximise, over
    the training FOVs, the mean of ARI-dagger, JI_c and AMI. ARI-dagger alone
    rewards cutting the background into many tiny clusters; JI_c counts
    those as false positives; AMI, which weighs every localisation, stops
    the pair from trading membership for cluster counts (measured on 20
    benchmark and simulated scenarios, ``benchmarks/dbscan_rule_scan.py``
    and the quality table: issue 11's target met on 8 instead of 7 over 3
    seeds). Candidates: 18
    values of ``eps`` from 1 % to 100 % of the connectivity radius
    (geometric), and ``min_samples`` from 2 up to the median training cluster
    size. This needs the labels ``y``; the training FOVs were also used to
    train the network, so the choice is slightly optimistic (choosing on FOVs
    the network was not trained on moved the choice but did not improve it:
    ``benchmarks/crossfit_choice.py``). A pretrained transformer
    (:meth:`MIROTransformer.pretrained`) with labels is not trained: its
    connectivity radius is 3.5 mean spacings per FOV, and the candidates use
    the median over the labelled FOVs.

    With ``collapse_passes="auto"`` the same search runs on the training
    FOVs collapsed once and twice, and the higher best score decides.
    Measured on the 22 rows of the quality table this estimator serves (3
    seeds each; ``benchmarks/README.md``, tenth session): two passes were
    chosen in 37 of the 66 fits (never for the single-shot models, where a
    second pass had lowered JI_c); JI_c rose on 11 rows and fell on 4,
    RMSRE_N improved on 12 and worsened on 4, ARI-dagger moved by -0.016 to
    +0.051; the table's target (the paper's MIRO row, and better than
    DBSCAN) was met on 2 more scenarios and lost on none.

    With ``border_points="auto"`` every number of passes is searched twice,
    with DBSCAN and with DBSCAN*, and the highest best score decides (a tie
    goes to fewer passes, then to DBSCAN). Measured on the 28 rows of the
    quality table this estimator serves (3 seeds each; ``benchmarks/README.md``,
    twenty-first session): DBSCAN* was chosen in 14 of the 84 fits, never
    on the benchmark's scenarios; the target was met on one more scenario
    (simulated scenario 10 with blinking, RMSRE_N 0.311 -> 0.289) and lost
    on none, while DBSCAN* on every fit would have lost three. The search
    takes about 1.2 times the CPU time of DBSCAN alone.

    With ``outlier_radius="auto"`` the chosen clustering of the training
    FOVs is scored again with each candidate radius, and the best score
    decides. Where the network moves background localisations from beside a
    cluster into it, trimming lowers the count error and raises ARI-dagger.
    Measured on the 28 rows of the quality table this estimator serves (3
    seeds each; ``benchmarks/README.md``, twenty-third session): a radius
    was chosen in 41 of the 84 fits; ARI-dagger rose by 0.005-0.010 on four
    rows (blinking scenario 6 among them) and no metric of any row fell by
    more than 0.001.

    Examples
    --------
    >>> from sklearn_miro import MIROClusterer, MIROTransformer
    >>> clu = MIROClusterer(MIROTransformer(random_state=0))  # doctest: +SKIP
    >>> clu.fit(X_train, y_train, groups=fov_train)  # doctest: +SKIP
    >>> labels = clu.predict(X_new, groups=fov_new)  # doctest: +SKIP
    """

    __metadata_request__fit = {"groups": True}
    __metadata_request__predict = {"groups": True}

    def __init__(self, transformer=None, *, collapse_passes="auto", eps="auto", min_samples="auto",
                 border_points="auto", outlier_radius="auto", clusterer=None, n_jobs=None):
        self.transformer = transformer
        self.collapse_passes = collapse_passes
        self.eps = eps
        self.min_samples = min_samples
        self.border_points = border_points
        self.outlier_radius = outlier_radius
        self.clusterer = clusterer
        self.n_jobs = n_jobs

    _parameter_constraints: dict = {
        "transformer": [HasMethods(["fit", "transform"]), None],
        "collapse_passes": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "eps": EPS_CONSTRAINTS,
        "min_samples": MIN_SAMPLES_CONSTRAINTS,
        "border_points": [StrOptions({"auto", "cluster", "background"})],
        "outlier_radius": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"}), None],
        "clusterer": [HasMethods(["fit_predict"]), None],
        "n_jobs": [Integral, None],
    }

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, groups=None):
        """Train the transformer (if needed) and cluster the training FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        y : array-like of shape (n_localizations,), optional
            Cluster labels (-1 = background). Needed to train the transformer
            and to choose ``eps="auto"``/``min_samples="auto"``.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation.

        Returns
        -------
        self : MIROClusterer
        """
        if isinstance(self.collapse_passes, bool):
            # Interval(Integral) takes True for 1; a flag here is a mistake.
            raise ValueError(
                f"collapse_passes must be an integer >= 1 or 'auto'; got {self.collapse_passes!r}."
            )
        X = check_coordinates(X, estimator=self, reset=True, min_points=2, groups=groups)
        groups = check_groups(groups, X.shape[0])
        auto = self.clusterer is None and "auto" in (str(self.eps), str(self.min_samples))
        labels = None
        if y is not None:
            labels = check_cluster_labels(y, X.shape[0], name="y", require_cluster=auto)
        transformer = MIROTransformer() if self.transformer is None else self.transformer
        check_miro_transformer(transformer)
        if is_fitted(transformer):
            if labels is not None:
                warn_if_zero_is_background(labels, X=X, groups=groups)
            self.transformer_ = transformer
        else:
            if labels is None:
                raise ValueError(
                    "MIROClusterer requires y to be passed, but the target y is None: it needs "
                    "the cluster labels (-1 = background) to train its MIRO transformer, or an "
                    "already fitted transformer (e.g. transformer=FrozenEstimator(fitted_miro))."
                )
            if getattr(transformer, "warm_start", False):
                # clone() drops the weights warm_start would continue from.
                warnings.warn(
                    "The transformer has warm_start=True, but MIROClusterer trains a fresh clone of it "
                    "at every fit, so nothing carries over. To continue training, fit the transformer "
                    "itself (its fit continues with warm_start=True) and pass it fitted: "
                    "MIROClusterer(sklearn.frozen.FrozenEstimator(miro)).",
                    UserWarning,
                    stacklevel=caller_stacklevel(),
                )
            self.transformer_ = clone(transformer).fit(X, labels, groups=groups)

        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        # Set by the search only: a refit without one leaves no stale grid behind.
        self.tuning_scores_ = self.eps_grid_ = self.min_samples_grid_ = None
        self.collapse_pass_scores_ = None
        self.border_point_scores_ = None
        self.outlier_radius_scores_ = None
        self.outlier_radius_ = None if self.outlier_radius == "auto" else self.outlier_radius
        self.label_free_ = self.clusterer is None and labels is None and _is_pretrained(self.transformer_)
        if self.label_free_:
            self.collapse_passes_ = (inner_transformer(self.transformer_).model_.collapse_passes
                                     if self.collapse_passes == "auto" else int(self.collapse_passes))
            self.border_points_ = "cluster" if self.border_points == "auto" else self.border_points
            self.labels_ = trim_clusters(X, self._cluster_label_free(X, fov_indices, record=True),
                                         self.outlier_radius_)
            self.cluster_table_ = cluster_table(X, self.labels_, groups, check_units=False)
            return self
        self.cluster_radius_ = self.cluster_radii_ = self.min_samples_per_fov_ = None
        choose = labels is not None and self.clusterer is None
        pass_options = (AUTO_COLLAPSE_PASSES if self.collapse_passes == "auto" and choose
                        else (1 if self.collapse_passes == "auto" else int(self.collapse_passes),))
        border_options = (AUTO_BORDER_POINTS if self.border_points == "auto" and choose
                          else ("cluster" if self.border_points == "auto" else self.border_points,))
        self.collapse_passes_ = pass_options[0]
        self.border_points_ = border_options[0]
        # The first candidate number of passes (the only one when there is no
        # choice); _choose collapses again for every other candidate.
        collapsed = [self._transform_fov(X[idx], n_passes=pass_options[0], one_fov=groups is not None)
                     for idx in fov_indices]
        if self.clusterer is None and (auto or len(pass_options) > 1 or len(border_options) > 1):
            if labels is None:
                raise ValueError(
                    "eps='auto' and min_samples='auto' choose the DBSCAN parameters on "
                    "labelled FOVs: pass y, or give eps and min_samples explicitly."
                )
            collapsed = self._choose(X, labels, fov_indices, collapsed, pass_options, border_options)
        else:
            if self.clusterer is not None:
                self.eps_ = self.min_samples_ = None
                self.clusterer_ = clone(self.clusterer)
            else:
                self.eps_, self.min_samples_ = self.eps, self.min_samples
                self.clusterer_ = dbscan_template(self.eps_, self.min_samples_,
                                                  core_only=self.border_points_ == "background")
        self.labels_ = self._cluster_collapsed(fov_indices, collapsed, X.shape[0])
        if self.outlier_radius == "auto" and choose:
            self._choose_outlier_radius(X, labels, fov_indices)
        self.labels_ = trim_clusters(X, self.labels_, self.outlier_radius_)
        self.cluster_table_ = cluster_table(X, self.labels_, groups, check_units=False)
        return self

    def _choose_outlier_radius(self, X, labels, fov_indices):
        """Score the training clustering trimmed at every radius of AUTO_OUTLIER_RADII; keep the best.

        The score is the DBSCAN search's (mean over FOVs of ARI-dagger, JI_c
        and AMI, weighted as the search weights them); ``max`` keeps the first of equal scores, and the candidates
        run from no trimming to the most.
        """
        fovs = [(X[idx], labels[idx], self.labels_[idx]) for idx in fov_indices]
        weights = fov_area_weights([X_fov for X_fov, _, _ in fovs])
        scores = {
            radius: float(np.average([ari_dagger_ji_c_ami(X_fov, y_fov, trim_clusters(X_fov, pred, radius))
                                      for X_fov, y_fov, pred in fovs], weights=weights))
            for radius in AUTO_OUTLIER_RADII
        }
        self.outlier_radius_scores_ = scores
        self.outlier_radius_ = max(scores, key=scores.get)

    def _choose(self, X, labels, fov_indices, collapsed, pass_options, border_options):
        """Search DBSCAN's parameters for every candidate number of passes and border-point rule.

        Each number of passes gets one ``eps`` / ``min_samples`` search on the
        training FOVs that scores every border-point rule on the same DBSCAN
        runs (:func:`~sklearn_miro.clustering.choose_dbscan_parameters_rules`);
        the best (passes, border points) score wins, and a tie goes to fewer
        passes, then to DBSCAN (border points in clusters). Sets the chosen
        parameters and the per-option scores; returns the training FOVs
        collapsed with the chosen number of passes.
        """
        best, rule_scores, candidate, done = {}, {}, collapsed, pass_options[0]
        memo = {}  # labellings met again (another pass, DBSCAN vs DBSCAN*) are not rescored
        # The search can take half a minute on blinking data: a bar per
        # candidate collapse (both border-point rules in it) when the
        # transformer is verbose.
        verbose = getattr(inner_transformer(self.transformer_), "verbose", 0)
        for n_passes in pass_options:
            if n_passes > done:
                # From the user's coordinates, so that every pass keeps the first one's
                # units (a pretrained transformer's are the FOV's own); they were
                # checked on the first collapse already.
                with skip_domain_checks():
                    candidate = [self._transform_fov(X[idx], n_passes=n_passes) for idx in fov_indices]
                done = n_passes
            desc = "MIRO: choosing the parameters of {dbscan}"
            if len(pass_options) > 1:
                desc += f" ({n_passes} pass{'es' if n_passes > 1 else ''})"
            rule, found, scores = search_border_rules(
                lambda core_only_options, bar, fovs=candidate: self._search(
                    X, labels, fov_indices, fovs, core_only_options, bar, memo),
                border_options, desc, verbose,
            )
            best[n_passes] = (scores[rule], rule, found, candidate)
            for r, score in scores.items():
                rule_scores[r] = max(rule_scores.get(r, -np.inf), score)
        # max() keeps the first of equal scores: fewer passes (and, within a
        # number of passes, search_border_rules already preferred DBSCAN).
        chosen = max(best, key=lambda p: best[p][0])
        _, self.border_points_, found, chosen_collapse = best[chosen]
        self.collapse_passes_ = chosen
        self.eps_, self.min_samples_, self.tuning_scores_, self.eps_grid_, self.min_samples_grid_ = found
        self.collapse_pass_scores_ = (
            {p: best[p][0] for p in pass_options} if len(pass_options) > 1 else None)
        self.border_point_scores_ = rule_scores if len(border_options) > 1 else None
        self.clusterer_ = dbscan_template(self.eps_, self.min_samples_,
                                          core_only=self.border_points_ == "background")
        return chosen_collapse

    def _cluster_label_free(self, X, fov_indices, record=False):
        """Collapse and cluster every FOV with the pretrained model's label-free rule.

        Per FOV: the cluster length scale ``R`` (given to the transformer, or
        estimated on the FOV), ``eps = eps_in_radii x R`` (the model card's
        ``dbscan`` entry) and ``min_samples`` from
        :meth:`~sklearn_miro.pretrained.PretrainedMIRO.dbscan_min_samples` (from
        the FOV's extra neighbours for the zero-shot model, the card's value
        raised with blinking for the others), unless ``eps`` or ``min_samples``
        are given.
        """
        inner = inner_transformer(self.transformer_)
        model = inner.model_
        eps_in_radii, _ = model.dbscan_rule
        core_only = self.border_points_ == "background"
        auto_min_samples = self.min_samples == "auto"
        given_min_samples = None if auto_min_samples else int(self.min_samples)
        inner._check_cluster_radius()  # set after pretrained(), never validated by a fit
        # Every FOV on its own, in one task (n_jobs, joblib), with a bar over
        # the FOVs when there are several.
        with progress_bar(len(fov_indices), "MIRO: clustering FOVs (zero-shot)",
                          inner.verbose if len(fov_indices) > 1 else 0) as bar:
            per_fov = map_fovs(
                label_free_fov,
                [(model, X[idx], inner.cluster_radius, given_min_samples, inner.verbose, inner.tile_size,
                  inner.crop_features, self.collapse_passes_) for idx in fov_indices],
                self.n_jobs,
                progress=bar,
            )
        collapsed = [moved for moved, _, _, _ in per_fov]
        radii = np.array([radius for _, radius, _, _ in per_fov], dtype=float)
        min_samples = np.array([ms for _, _, ms, _ in per_fov], dtype=np.int64)
        warn_if_blinking_model_without_blinking(model, [blinks for _, _, _, blinks in per_fov])
        eps = eps_in_radii * radii if self.eps == "auto" else np.full(len(radii), float(self.eps))
        if record:
            finite = np.isfinite(radii)
            self.cluster_radii_ = radii
            self.cluster_radius_ = float(np.median(radii[finite])) if finite.any() else float("nan")
            self.eps_ = float(np.median(eps[np.isfinite(eps)])) if np.isfinite(eps).any() else float("nan")
            self.min_samples_per_fov_ = min_samples
            self.min_samples_ = int(np.median(min_samples)) if len(min_samples) else None
            self.clusterer_ = dbscan_template(self.eps_, self.min_samples_, core_only=core_only)
        return dbscan_per_fov_scaled(fov_indices, collapsed, eps, min_samples, X.shape[0],
                                     core_only=core_only)

    def _search(self, X, labels, fov_indices, collapsed, core_only_options, progress, memo):
        """:func:`~sklearn_miro.clustering.choose_dbscan_parameters_rules` on the collapsed training FOVs."""
        X_fovs = [X[idx] for idx in fov_indices]
        return choose_dbscan_parameters_rules(
            X_fovs,
            collapsed,
            [labels[idx] for idx in fov_indices],
            self._eps_grid_radius(X, fov_indices),
            self.eps,
            self.min_samples,
            # The mean of ARI-dagger, JI_c and AMI, from one encoding of
            # each labelling (the same value as AMI added as an extra score).
            score=ari_dagger_ji_c_ami,
            n_jobs=self.n_jobs,
            progress=progress,
            core_only_options=core_only_options,
            memo=memo,
            fov_weights=fov_area_weights(X_fovs),
        )

    def _eps_grid_radius(self, X, fov_indices):
        """The length ``eps="auto"``'s candidates are fractions of (NaN when eps is given).

        The transformer's connectivity radius; a pretrained transformer has
        one per FOV (a multiple of the FOV's mean spacing), so its labelled
        FOVs' median is used.
        """
        if not is_auto(self.eps):
            return float("nan")  # the given eps is the only candidate
        if _is_pretrained(self.transformer_):
            model = inner_transformer(self.transformer_).model_
            radii = np.array([model.fov_connectivity_radius(X[idx]) for idx in fov_indices])
            if not np.isfinite(radii).any():
                raise ValueError(
                    "eps='auto' found no labelled FOV that spans an area (each needs at least "
                    "3 localisations, not all on one point); give eps explicitly."
                )
            # Weighted by area where the FOVs' areas differ more than 2 times.
            return fov_median(radii, [X[idx] for idx in fov_indices])
        return radius_in_units_of_x(inner_transformer(self.transformer_).model_, X, fov_indices)

    def _transform_fov(self, X_fov, n_passes=None, one_fov=False):
        # The transformer's public transform: a pretrained (units per FOV) or
        # fine-tuned transformer collapses each FOV in its own way.
        n_passes = self.collapse_passes_ if n_passes is None else n_passes
        return collapse_repeatedly(self.transformer_, X_fov, n_passes, one_fov=one_fov)

    def _cluster_collapsed(self, fov_indices, collapsed, n):
        return cluster_per_fov(fov_indices, collapsed, self.clusterer_, n, self.n_jobs)

    def predict(self, X, groups=None):
        """Cluster new FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; each FOV is collapsed and clustered
            on its own.

        Returns
        -------
        labels : ndarray of shape (n_localizations,)
            -1 for background; cluster ids are unique across FOVs.
        """
        check_is_fitted(self, "labels_")
        X = check_coordinates(X, estimator=self, reset=False, min_points=1, groups=groups)
        groups = check_groups(groups, X.shape[0])
        fov_indices = [idx for _, idx in split_by_group(groups, X.shape[0])]
        if getattr(self, "label_free_", False):
            return trim_clusters(X, self._cluster_label_free(X, fov_indices), self.outlier_radius_)
        if groups is None:
            fov_labels = [predict_fov(self.transformer_, self.clusterer_, X, self.collapse_passes_)]
        else:
            # Every FOV collapsed and clustered in one task (n_jobs, joblib).
            fov_labels = map_fovs(
                predict_fov,
                [(self.transformer_, self.clusterer_, X[idx], self.collapse_passes_, True) for idx in fov_indices],
                self.n_jobs,
            )
        return trim_clusters(X, stack_fov_labels(fov_indices, fov_labels, X.shape[0]), self.outlier_radius_)

    def __setstate__(self, state):
        # Clusterers pickled before n_jobs existed get its default.
        state = dict(state)
        state.setdefault("n_jobs", None)
        # ... and one collapse pass, the only one there was, and DBSCAN's
        # border points in their clusters.
        state.setdefault("collapse_passes", 1)
        state.setdefault("border_points", "cluster")
        # ... and no trimming of the clusters.
        state.setdefault("outlier_radius", None)
        if "labels_" in state:
            state.setdefault("collapse_passes_", 1)
            state.setdefault("border_points_", "cluster")
            state.setdefault("border_point_scores_", None)
            state.setdefault("outlier_radius_", None)
            state.setdefault("outlier_radius_scores_", None)
        super().__setstate__(state)

    def fit_predict(self, X, y=None, groups=None):
        """Fit and return the labels of the training data (``labels_``)."""
        return self.fit(X, y, groups=groups).labels_

    def predict_table(self, X, groups=None):
        """Cluster new FOVs and return one row of statistics per cluster.

        :meth:`predict` followed by :func:`sklearn_miro.analysis.cluster_table`
        (size, centroid, radius of gyration, convex hull, density, principal
        axes, nearest-cluster distance); ``cluster_table_`` is the same table
        for the training FOVs.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
        groups : array-like of shape (n_localizations,), optional

        Returns
        -------
        table : pandas.DataFrame
        """
        check_is_fitted(self, "labels_")
        # Read once (a FOV or z column is named once), then clustered and tabulated.
        X = check_coordinates(X, estimator=self, reset=False, min_points=1, groups=groups)
        return cluster_table(X, self.predict(X, groups=groups), groups, check_units=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def check_miro_transformer(transformer):
    """Raise a TypeError unless ``transformer`` is a MIRO transformer (possibly frozen).

    MIROClusterer passes ``groups`` to its transformer and reads its
    connectivity radius; any other transformer would fail deep inside.
    """
    check_transformer_kind(transformer, MIROTransformer, "a MIRO transformer (MIROTransformer)",
                           "MultiscaleMIROTransformer", "MultiscaleMIROClusterer")


def _is_pretrained(transformer):
    """Whether a fitted transformer is a pretrained model used zero-shot (units per FOV)."""
    return isinstance(getattr(inner_transformer(transformer), "model_", None), PretrainedMIRO)
