"""MIROTransformer: collapse the clusters of SMLM point clouds onto their centres."""

from __future__ import annotations

import copy
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_is_fitted

from .. import pretrained as pretrained_models
from .._validation import (
    caller_stacklevel,
    check_cluster_labels,
    check_coordinates,
    check_groups,
    check_pass_count,
    select_xy,
    split_by_group,
    warn_if_zero_is_background,
)
from ..model import DEFAULT_N_STEPS, ELONGATED_HIDDEN_SIZE, elongated_start, merge_copies
from ._base import FINE_TUNING_SCHEDULE, BaseMIRO
from ._base import NETWORK_DEFAULTS as _D

__all__ = ["MIROTransformer"]

#: Private attribute of a transformer from MIROTransformer.pretrained() not
#: fitted with labels since: such a one stays pretrained through clone.
_PRETRAINED_FLAG = "_pretrained_as_shipped"
# Parameters a pretrained model's zero-shot use reads or ignores without effect on its
# output; a clone after set_params of any other one (the network, its start, the
# training) is an ordinary unfitted transformer, so that the change is trained.
_PRETRAINED_INFERENCE_PARAMS = frozenset(
    {"cluster_radius", "device", "verbose", "tile_size", "crop_features", "n_jobs", "random_state"})


class MIROTransformer(OneToOneFeatureMixin, TransformerMixin, BaseMIRO):
    """Collapse the clusters of SMLM point clouds onto their centres with MIRO.

    MIRO (Pineda et al., Nat. Commun. 16, 9693, 2025) is a recurrent graph
    neural network that predicts, for every localisation, the displacement to
    the centre of its cluster (zero for background). It is trained few-shot:
    ``fit`` cuts the labelled clusters out of a few fields of view (FOVs),
    builds ``n_augmented`` synthetic FOVs from them (random rotations,
    reflections, localisation dropout and addition, jitter, random placement,
    background), and trains the network on those. ``transform`` returns the
    moved coordinates, in which clusters are compact and well separated, ready
    for DBSCAN.

    Parameters
    ----------
    hidden_size : int or "auto", default="auto"
        Width of the hidden node and edge representations (the paper uses 256;
        64 trains about 10 times faster on a CPU at a small cost in quality,
        paper Table S8). ``"auto"``: 64 (the pretrained models' width), or 96
        when ``init="auto"`` chooses random weights for elongated clusters
        (see ``init``); a warm start keeps its network's width. The value used
        is ``hidden_size_``.
    n_steps : int or "auto", default="auto"
        Number of recurrent message-passing steps ``K``: the receptive field,
        in graph hops. Clusters larger than ``n_steps`` hops need more steps.
        ``"auto"``: 15 (the pretrained models' depth), and when fine-tuning a
        pretrained model on hollow labelled clusters (rings: the median
        cluster has under 5 % of its localisations within half its RMS radius
        of its centre, against 22 % for a Gaussian cluster) 25 steps and,
        with ``n_augmented="auto"``, twice the synthetic FOVs under a
        localisation budget of 750 instead of 300 per crop (so up to 8 times
        the CPU time on dense data): on rings both were needed to reach the
        paper's quality, at about 7 times the CPU time (8.6-8.7
        CPU-minutes on the quality table's machine, ``doc/method.md``). A
        warm start keeps its network's depth. The value used is ``n_steps_``.
    connectivity_radius : float or "auto", default="auto"
        Delaunay edges at least this long are dropped; in the units of X
        (usually nm). ``"auto"``: 3.5 times the mean localisation spacing
        ``sqrt(FOV area / n)`` of the training FOVs (median over FOVs; pooled over FOVs
        whose areas differ more than 2 times), see
        :func:`sklearn_miro.graph.default_connectivity_radius`. The value used
        is ``connectivity_radius_``.
    length_scale : float, "auto" or "radius", default="auto"
        Length unit of the network's edge features and displacement outputs.
        ``"radius"``: the connectivity radius, as in the reference
        implementation. ``"auto"``: 0.4 times the median root-mean-square
        radius of the training clusters, which makes the targets of order 1;
        training then leaves the trivial "move nothing" solution several times
        sooner (see ``benchmarks/README.md``). The value used is
        ``length_scale_``.
    eigenvector_normalization : {"rms", "unit"}, default="rms"
        Scale of the Laplacian eigenvector node features: ``"unit"`` (unit
        norm over the graph, the reference's choice) makes them shrink like
        ``1/sqrt(n)`` with the size of the FOV; ``"rms"`` keeps them of order 1,
        so a model trained on small synthetic FOVs sees the same feature scale
        on large real ones.
    fov_normalization : {None, "minmax", "reference"}, default=None
        ``None``: work in the units of X. ``"minmax"``: scale each axis of
        every FOV to [0, 1] (by its minimum and maximum) before building the
        graph, as the reference implementation does, and map the output back
        to the units of X; ``connectivity_radius`` is then in those
        normalised units. ``"reference"``: as ``"minmax"``, but ``transform``
        returns the reference's clustering space (normalised output times the
        per-axis maximum of the FOV), in which the authors' published DBSCAN
        ``eps`` values apply. Used by
        :func:`sklearn_miro.load_reference_checkpoint`. With either, the
        network sees the same graph whatever the units of X (its output
        follows them), but lengths chosen with the model, such as a
        clusterer's ``eps``, stay in the training units: ``transform`` checks
        the units on the coordinates as given, against the training data's
        spacing in its own units (a ``UnitMismatchWarning`` beyond 10 times),
        and also warns when a FOV's spacing in the normalised space is 10
        times off the training FOVs' (many more or far fewer localisations per
        FOV side, whatever the units).
    alpha : float, default=10.0
        Weight of the distance-preservation term of the loss (paper Eq. 6),
        on the reference implementation's scale: there, displacements are
        measured in units of the connectivity radius and edge lengths in units
        of the FOV side (FOVs normalised to [0, 1]), so the distance term
        weighs ``alpha * connectivity_radius_ / distance_unit_`` relative to the
        displacement term; sklearn_miro keeps that ratio.
    learning_rate : float or "auto", default="auto"
        Adam learning rate. ``"auto"``: 1e-3 from random weights, 3e-4 when
        fine-tuning (``init`` or ``warm_start``); the same rule sets
        ``max_epochs``, ``n_augmented`` and ``batch_size`` left at ``"auto"``
        (see :meth:`training_schedule`).
    lr_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` decays the learning rate to 5 % over the training.
    max_epochs : int or "auto", default="auto"
        Passes over the synthetic training FOVs (``"auto"``: 12 from random
        weights, 3 when fine-tuning).
    n_augmented : int or "auto", default="auto"
        Number of synthetic training FOVs (graphs; ``"auto"``: 2000 from
        random weights, 800 when fine-tuning; on crops that hold more than
        300 localisations, proportionally fewer (from random weights too),
        see :func:`sklearn_miro.augmentation.budgeted_n_augmented`; the
        number used is ``n_augmented_``).
    batch_size : int or "auto", default="auto"
        Graphs per optimisation step (``"auto"``: 8 from random weights, 2
        when fine-tuning).
    augmentation : dict or None, default=None
        Options of the synthetic FOVs, see
        :class:`sklearn_miro.training.AugmentationOptions` (for example
        ``{"fov_size": 1000, "background": "uniform"}``).
    validation_fraction : float, default=0.1
        Extra synthetic FOVs, as a fraction of ``n_augmented``, held out to
        keep the weights of the best epoch. 0 disables it, and with it the
        second training of a fit that moved nothing (``augmentation``'s
        ``retry_thinned_background``), which is judged on those FOVs.
    n_iter_no_change : int or None, default=None
        Stop early when the validation loss has not improved for this many
        epochs.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where to train and run the network: ``"auto"`` uses CUDA when
        available. The fitted network is stored on the CPU, so a model
        trained on a GPU loads and runs on a CPU-only machine.
    random_state : int, RandomState instance or None, default=None
        Seeds the augmentation, the initial weights and the shuffling: the
        same value gives the same model on the CPU.
    verbose : int, default=1
        0: silent; 1: progress bars while training, and over the
        localisations of every tiled FOV at inference (see ``tile_size``;
        not inside parallel FOV workers).
    tile_size : "auto", None or float, default="auto"
        Tiled inference of large FOVs (``sklearn_miro.tiling``, see
        ``doc/scaling.md``): ``"auto"`` tiles FOVs of more than 50,000
        localisations, ``None`` never tiles, a number always tiles with owned
        squares of that side (units of X; needs ``fov_normalization=None``).
        Tiles run with a halo of ``n_steps x connectivity_radius``, which makes
        the message passing exact; the Laplacian eigenvector features of a
        tiled FOV are always computed per square of the synthetic training
        FOVs' side (see ``crop_features``), so with ``crop_features=True``
        tiled and whole-FOV inference give the same result. Cost linear in N,
        memory bounded by a tile.
    crop_features : bool, default=True
        Compute the Laplacian eigenvector node features on squares of the
        synthetic training FOVs' side (a graph of the size the network was
        trained on), edges between squares left out of the eigen-problem only.
        A pretrained model (:meth:`pretrained`) uses squares of 45 mean
        localisation spacings; a model trained on whole FOVs
        (``augmentation={"fov_size": None}``) keeps whole-FOV features.
        False: on the whole FOV's graph (a tiled FOV still uses the squares),
        the behaviour before this parameter existed; models saved before it
        load with False. Over 26 scenarios x 3 seeds the squares raised JI_c
        on 20 and lowered RMSRE_N on 18 (``doc/method.md``).
    n_jobs : int or None, default=None
        FOVs processed in parallel by ``transform`` (joblib; None means 1
        unless inside a :func:`joblib.parallel_config` context, which also
        selects the backend, e.g. Dask; -1 all cores). Each task runs torch on
        one thread.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training forward passes. ``"bfloat16"``: mixed
        precision (the matrix products in bfloat16 with float32 sums; the
        weights, the optimiser, the loss and all inference stay float32).
        ``"auto"``: bfloat16 for a fit from random weights on a CPU with native
        bfloat16 instructions (AVX512-BF16 or AMX: recent AMD EPYC/Ryzen and
        Intel Xeon), float32 otherwise (fine-tuning, GPUs, other CPUs). On the
        shape mixtures and the NPC, trained from scratch, bfloat16 cut a fit's
        CPU time to 0.70-0.93 of float32's at the same scores
        (``doc/method.md``). Choose ``"float32"`` (and ``compile=False``) for
        bit-identical fits on machines with the same CPU model; another CPU
        model sums float32 products in another order, so its fits differ in
        the last digits and, after training, by about a seed's spread. The
        choice made is ``training_precision_``.
    compile : {"auto"} or bool, default="auto"
        Run the training passes through ``torch.compile``, which fuses the
        network's element-wise work on the graph's edges into a few loops.
        ``"auto"``: for a fit from random weights scheduled for at least
        2,000 optimisation steps (the default from-scratch schedule has 3,000)
        on a CPU with a C++ compiler on the PATH and torch 2.6 or later,
        otherwise not (fine-tuning, short fits, GPUs). Compiling costs 40-60
        CPU-seconds the first time on a machine (later fits reuse torch's
        on-disk cache) and made each step of a shape mixture's training 0.68
        times as costly in bfloat16, 0.87 in float32 (``doc/method.md``). If
        compiling fails, the fit warns, trains uncompiled, and later fits in
        the same process skip the attempt. What ran is
        ``training_compiled_``.

    init : "auto", str or None, default="auto"
        Weights ``fit`` starts from. A name of a pretrained model shipped with
        the package (:func:`sklearn_miro.pretrained.available_models`, e.g.
        ``"nanoclusters"``) fine-tunes it; ``hidden_size`` must be the
        model's, ``n_steps`` may differ (its weights are shared by every
        recurrent step). ``None`` starts from random weights.
        ``"auto"``: ``"nanoclusters"`` when the network settings are the ones
        it was trained with (``hidden_size``, ``eigenvector_normalization``
        at their defaults, ``n_steps`` "auto" or 15, ``connectivity_radius``
        and ``length_scale`` ``"auto"``, ``fov_normalization=None``), else
        random weights. Starting from trained weights leaves the trivial
        "move nothing" solution on data where training from random weights
        does not, in a fraction of the time (``benchmarks/README.md``).
        One exception, with the network settings above at the pretrained
        model's, ``hidden_size`` and the four schedule parameters
        (``learning_rate``, ``max_epochs``, ``n_augmented``, ``batch_size``)
        at ``"auto"``, and no warm start: when the labelled clusters are elongated (median
        ratio of long to short axis at least 3), fine-tuning ``"nanoclusters"``,
        trained on round and mildly elliptical clusters, falls short of the
        paper. If a synthetic crop holds at most 250 localisations, ``fit``
        then trains a network of hidden size 96 from random weights with the
        from-scratch schedule, about 10 CPU-minutes instead of about 1 on a
        CPU with native bfloat16 (about 25 in float32 on one without);
        with larger crops it fine-tunes ``"elongated"``, trained on elongated
        clusters only (:func:`sklearn_miro.model.elongated_start`,
        ``doc/method.md``). The choice made is ``started_from_``.
    warm_start : bool, default=False
        When True and the estimator is already fitted, ``fit`` starts from the
        current network (scikit-learn's ``warm_start``); it takes precedence
        over ``init``.
    cluster_radius : float or None, default=None
        Only for a model returned by :meth:`pretrained` and not refitted: the
        cluster length scale, the typical root-mean-square radius of a cluster
        in the units of X (``sqrt(2) x`` the standard deviation of a round
        Gaussian cluster; with multiple blinking, include the localisation
        precision). ``None`` estimates it on every FOV from the pair-correlation
        function (:func:`sklearn_miro.parameters.pair_correlation_radius`). After
        ``fit`` the units come from the labelled clusters and this is unused.

    Attributes
    ----------
    model_ : sklearn_miro.model.FittedMIRO
        The fitted model (network, length units, normalisation, steps); the
        attributes below are read-only views of it.
    network_ : MIRONetwork
        The trained network (on the CPU).
    connectivity_radius_ : float
        Connectivity radius used, in the units of X.
    augmentation_fov_size_ : float or None
        Side of the synthetic training FOVs used (``augmentation["fov_size"]``
        resolved), in the units the network was trained in; None for the
        extent of the training FOVs.
    n_augmented_ : int or None
        Synthetic training FOVs used (``n_augmented`` resolved); None for a
        model loaded from a checkpoint.
    training_precision_ : str
        ``precision`` resolved: ``"float32"`` or ``"bfloat16"``.
    training_compiled_ : bool
        Whether the training passes ran compiled to the end of the fit
        (``compile`` resolved, and no failure: a fit that fell back part-way
        says False).
    n_steps_ : int
        Recurrent steps of the network (``n_steps`` resolved).
    central_fraction_ : float
        With ``n_steps="auto"`` when fine-tuning a pretrained model: the
        median fraction of a labelled cluster's localisations within half its
        RMS radius of its centre
        (:func:`sklearn_miro.augmentation.central_fraction`), which chose the
        depth; NaN otherwise. Like the other training attributes, absent on a
        model from :meth:`pretrained` that was not fitted.
    distance_unit_ : float
        Median side of the training FOVs (the unit of the distance loss;
        weighted by area where their areas differ more than 2 times).
    fov_density_ : float
        Median localisation density of the training FOVs (of the pooled
        localisations where their areas differ more than 2 times), used to warn when
        several FOVs are passed without ``groups``: data without ``groups`` more
        than :data:`sklearn_miro.domain.STACKING_DENSITY_RATIO` (1.8) times as
        dense get the warning (two stacked FOVs are about twice as dense; so
        is one FOV twice as dense, which the message names as the other
        cause).
    localization_spacing_ : float
        Median nearest-neighbour distance of the training localisations (in the
        space the network sees). ``transform`` warns, naming the likely unit
        conversion, when new data's spacing differs by more than 10 times
        (:data:`sklearn_miro.domain.UNIT_MISMATCH_FACTOR`); with
        ``fov_normalization``, the units are compared on the raw coordinates
        (``model_.input_spacing``, the training spacing in the units of X) and
        this normalised spacing tells FOVs of another size.
    n_fovs_ : int
        Number of training FOVs.
    loss_curve_, validation_loss_curve_ : list of float
        Mean loss per epoch.
    n_epochs_, best_epoch_ : int
        Epochs run and the (0-based) epoch whose weights were kept.
    training_time_ : float
        Seconds spent building the training graphs and training.
    training_compression_ : float
        How much the fitted network shrinks the training clusters: median
        distance of their localisations to the cluster centre after the
        collapse divided by the same before it (1 = not collapsed at all).
    started_from_ : str or None
        What training started from: a pretrained model's name,
        ``"warm_start"``, or None (random weights).
    hidden_size_ : int
        Width of the fitted network (``hidden_size`` with ``"auto"`` resolved).
    training_relative_loss_ : float
        Best validation loss (last training loss without validation graphs)
        divided by the loss of moving nothing, on the same synthetic FOVs.
        When ``training_compression_ >= 0.8``, ``fit`` warns with a
        :class:`~sklearn_miro.diagnostics.MoveNothingWarning` giving both
        figures: the network ended near the trivial solution and MIRO +
        DBSCAN is plain DBSCAN. A relative loss near 1 alone does not warn:
        networks that collapse the clusters and beat DBSCAN can have one.
    thinned_background_ : float or None
        When the first training ended near "move nothing" on FOVs with more
        background than clustered localisations (clustered over background
        under ``background_count_range``'s lower end, 0.8 by default), ``fit``
        trains once more on
        crops whose background is thinned (``augmentation``'s
        ``retry_thinned_background``) and keeps that network if its loss on
        the same validation crops is lower: then the lower end of the keep
        fraction (clustered over background localisations); None otherwise.
    retry_relative_loss_, retry_compression_ : float
        The relative loss (on the first fit's validation crops) and the
        training compression of that second network, kept or not; NaN when
        there was none.
    device_ : str
        Device used for training.
    n_features_in_ : int
        Always 2.
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame.

    See Also
    --------
    MIROClusterer : MIROTransformer followed by DBSCAN, per FOV.

    Examples
    --------
    >>> from sklearn_miro import MIROTransformer
    >>> from sklearn_miro.datasets import make_benchmark_scenario
    >>> X, y, fov = make_benchmark_scenario(6, n_fovs=3, random_state=0)
    >>> miro = MIROTransformer(random_state=0, verbose=0).fit(X, y, groups=fov)  # doctest: +SKIP
    >>> X_collapsed = miro.transform(X_new)  # doctest: +SKIP
    """

    # groups is metadata of transform too: requested so that a Pipeline's fit_transform
    # (fit and transform) routes it consistently when metadata routing is on.
    __metadata_request__transform = {"groups": True}

    _parameter_constraints: dict = {
        **BaseMIRO._parameter_constraints,
        "hidden_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "init": [str, None],
        "warm_start": ["boolean"],
        "cluster_radius": [Interval(Real, 0, None, closed="neither"), None],
        "n_steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        *,
        hidden_size="auto",
        n_steps="auto",
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
        init="auto",
        warm_start=False,
        cluster_radius=None,
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
        self.init = init
        self.warm_start = warm_start
        self.cluster_radius = cluster_radius

    def __setstate__(self, state):
        # Transformers pickled before the pretrained models existed trained
        # from random weights, never continued a fit and had no cluster radius;
        # they keep those values, fitted or not, so that a refit trains as
        # they did (the current default, init="auto", would fine-tune instead).
        state = dict(state)
        state.setdefault("init", None)
        state.setdefault("warm_start", False)
        state.setdefault("cluster_radius", None)
        # Pretrained models pickled before clone kept them pretrained: their model_ says so.
        # (Nothing is added to any other state: a deep copy must equal its original.)
        if isinstance(state.get("model_"), pretrained_models.PretrainedMIRO):
            state.setdefault(_PRETRAINED_FLAG, True)
        super().__setstate__(state)

    def _is_pretrained_as_shipped(self):
        """Whether this is a model from :meth:`pretrained` not fitted with labels since."""
        return bool(self.__dict__.get(_PRETRAINED_FLAG, False)) and isinstance(
            self.__dict__.get("model_"), pretrained_models.PretrainedMIRO)

    def _training_parameters_as_shipped(self):
        """Whether every parameter but the inference ones is what :meth:`pretrained` set."""
        shipped = type(self)(hidden_size=self.model_.network.hidden_size, n_steps="auto",
                             init=self.model_.name).get_params(deep=False)
        current = self.get_params(deep=False)
        return all(current[key] == value for key, value in shipped.items()
                   if key not in _PRETRAINED_INFERENCE_PARAMS)

    def __sklearn_clone__(self):
        """``sklearn.base.clone``: a pretrained model stays one; any other gives an unfitted copy.

        A transformer returned by :meth:`pretrained` and not fitted with labels
        since is cloned into the same pretrained model (its parameters as set
        now, ``set_params`` after ``pretrained()`` included, and a copy of its
        network), so ``GridSearchCV``, ``cross_validate`` and ``Pipeline`` use
        it as it is instead of training it. That holds while only the
        parameters zero-shot use reads (``cluster_radius``, ``device``,
        ``verbose``, ``tile_size``, ``crop_features``, ``n_jobs``) or ignores
        (``random_state``) differ from what :meth:`pretrained` set: after
        ``set_params`` of any other (the network's size or depth, ``init``, a
        training setting, as a grid search over them does) the clone is an
        ordinary unfitted transformer, so the change is trained (fine-tuned
        from ``init``) rather than silently ignored. Every other transformer,
        fitted or not, clones as any scikit-learn estimator: unfitted, same
        parameters.
        """
        fresh = super().__sklearn_clone__()
        if self._is_pretrained_as_shipped() and self._training_parameters_as_shipped():
            # 140 KB of weights: a copy, so that no fit of one can touch the other.
            fresh.model_ = copy.deepcopy(self.model_)
            fresh.n_features_in_ = 2
            setattr(fresh, _PRETRAINED_FLAG, True)
        return fresh

    @classmethod
    def pretrained(cls, name=pretrained_models.ZERO_SHOT_MODEL, *, cluster_radius=None, device="auto",
                   verbose=1):
        """A fitted transformer with a pretrained network shipped in the package.

        No training and no labels: the network was trained on simulations only
        (``doc/pretrained.md``). Every FOV is processed in its own units: the
        graph's connectivity radius is 3.5 times the FOV's mean localisation
        spacing, and lengths are measured in units of the cluster length scale
        (``cluster_radius``, or estimated per FOV when None). Use it in
        :class:`MIROClusterer` to cluster unlabelled FOVs; ``fit`` on labelled
        FOVs fine-tunes it (the returned estimator has ``init=name``).

        The model stays pretrained through ``sklearn.base.clone``: a clone is
        the same pretrained model (same parameters, ``set_params`` after this
        call included, and a copy of the same weights), so ``GridSearchCV``,
        ``cross_validate`` and ``Pipeline`` use it as it is, without training
        it and without :class:`sklearn.frozen.FrozenEstimator`. ``fit(X)``
        without labels keeps it as it is (a ``Pipeline`` ending in DBSCAN
        runs zero-shot). To fine-tune it, call ``fit(X, y)`` with labels (it
        is then an ordinary fitted transformer, whose clone is unfitted, with
        ``init=name``), or use ``MIROTransformer(init=name)``.

        Parameters
        ----------
        name : str, default="nanoclusters-long"
            One of :func:`sklearn_miro.pretrained.available_models`. The default is
            the model trained longest, the better one zero-shot (JI_c +0.07, ARI†
            -0.03 on 200 benchmark FOVs); ``"nanoclusters"``, the start that ``fit``
            uses by default (``init="auto"``), fine-tunes better (``doc/pretrained.md``).
            ``"blinking"`` is for data with multiple blinking only (several
            localisations per molecule); there the default does as well on the
            benchmark's five blinking scenarios (better on both metrics on three, a
            trade on two); on data without blinking it finds
            almost none of the clusters (JI_c 0.00-0.04 on four ground-truth
            scenarios, 0.46 on the elongated one), and :class:`MIROClusterer`
            warns where the FOVs' pair correlation shows no blinking.
        cluster_radius : float or None, default=None
            Typical RMS radius of a cluster in the units of X (nm), if known.
        device : str, default="auto"
            Used by ``fit`` when fine-tuning; zero-shot inference runs on the CPU.
        verbose : int, default=1
            Progress bars on long work, as the estimator's own default: FOVs
            processed in tiles (more than 50,000 localisations), several FOVs
            clustered zero-shot by :class:`MIROClusterer`, fine-tuning. 0: none.

        Returns
        -------
        MIROTransformer
            Fitted (``pretrained_`` is ``name``); ``clone`` keeps it fitted and
            pretrained until a ``fit`` with labels fine-tunes it.

        Examples
        --------
        >>> from sklearn_miro import MIROClusterer, MIROTransformer
        >>> miro = MIROTransformer.pretrained()
        >>> miro.pretrained_
        'nanoclusters-long'
        >>> labels = MIROClusterer(miro).fit_predict(X)  # doctest: +SKIP
        """
        model = pretrained_models.PretrainedMIRO.load(name)
        estimator = cls(
            hidden_size=model.network.hidden_size,
            # Inference runs the model's own depth (model_.n_steps); "auto"
            # lets a later fit fine-tune with the depth rule like init="auto".
            n_steps="auto",
            init=name,
            cluster_radius=cluster_radius,
            device=device,
            verbose=verbose,
        )
        estimator._validate_params()
        estimator.model_ = model
        estimator.n_features_in_ = 2
        # Cleared by a fit with labels (fine-tuning); kept by clone and by fit without labels.
        setattr(estimator, _PRETRAINED_FLAG, True)
        return estimator

    def _check_cluster_radius(self):
        # A pretrained model is used without fit, so a cluster_radius set with
        # set_params after pretrained() is checked where it is used, by name.
        validate_parameter_constraints(
            {"cluster_radius": self._parameter_constraints["cluster_radius"]},
            {"cluster_radius": self.cluster_radius}, caller_name=type(self).__name__,
        )

    @property
    def pretrained_(self):
        """Name of the pretrained model used zero-shot; None after ``fit`` with labels."""
        check_is_fitted(self, "model_")
        return getattr(self.model_, "name", None)

    @property
    def hidden_size_(self):
        """Width of the fitted network (``hidden_size`` with ``"auto"`` resolved)."""
        check_is_fitted(self, "model_")
        return int(self.model_.network.hidden_size)

    @property
    def model_card_(self):
        """The card of the pretrained model used zero-shot (training settings, DBSCAN rule)."""
        check_is_fitted(self, "model_")
        if not isinstance(self.model_, pretrained_models.PretrainedMIRO):
            raise AttributeError("model_card_ exists only for a model returned by pretrained().")
        return self.model_.card

    def _pretrained_start(self):
        """Name of the pretrained model ``init`` selects, or None for random weights."""
        if self.init != "auto":
            if self.init is not None and self.init not in pretrained_models.available_models():
                raise ValueError(
                    "init must be 'auto', None or the name of a pretrained model "
                    f"{pretrained_models.available_models()}; got {self.init!r}."
                )
            return self.init
        info = pretrained_models.model_info(pretrained_models.FINE_TUNING_MODEL)
        compatible = (
            self.hidden_size in ("auto", info["network"]["hidden_size"])
            and self.n_steps in ("auto", info["n_steps"])
            and self.eigenvector_normalization == info["eigenvector_normalization"]
            and self.connectivity_radius == "auto"
            and self.length_scale == "auto"
            and self.fov_normalization is None
        )
        return pretrained_models.FINE_TUNING_MODEL if compatible else None

    def _continues_fit(self):
        """Whether ``fit`` continues the current network (``warm_start`` on a fitted estimator)."""
        return bool(self.warm_start and "model_" in self.__dict__)

    def _elongated_start(self, X, labels, fov_indices, options, pretrained_start):
        """``(hidden size, pretrained model or None, note)`` when ``init="auto"`` meets elongated clusters, else None.

        ``pretrained_start`` is what ``init`` selects (:meth:`_pretrained_start`).
        None as the returned model means random weights; the note goes on the training bar.
        """
        automatic = (self.hidden_size == "auto" and self.init == "auto" and not self._continues_fit()
                     # every schedule parameter (the keys both automatic schedules share)
                     and all(getattr(self, name) == "auto" for name in FINE_TUNING_SCHEDULE))
        if not automatic or pretrained_start is None:
            return None
        choice = elongated_start(X, labels, fov_indices, augmentation=options,
                                 fov_normalization=self.fov_normalization)
        if not choice.elongated:
            return None
        why = f"elongated clusters, axis ratio {choice.axis_ratio:.1f}"
        if choice.random_weights:
            return ELONGATED_HIDDEN_SIZE, None, f"random weights, hidden size {ELONGATED_HIDDEN_SIZE}: {why}"
        name = pretrained_models.ELONGATED_FINE_TUNING_MODEL
        hidden_size = pretrained_models.model_info(name)["network"]["hidden_size"]
        return hidden_size, name, f"fine-tuning {name!r}: {why}"

    def _resolved_hidden_size(self):
        """``hidden_size`` with ``"auto"`` resolved when no elongation rule applies."""
        if self.hidden_size != "auto":
            return self.hidden_size
        if self._continues_fit():
            return self.model_.network.hidden_size
        return _D["hidden_size"]

    def _initial_state(self, hidden_size, origin):
        """Weights ``fit`` starts from and their origin (None, None for random weights).

        The current network (warm_start), else the pretrained model named
        ``origin``, or random weights when ``origin`` is None.
        """
        if self._continues_fit():
            network, source, origin = self.model_.network, "the current network (warm_start=True)", "warm_start"
        else:
            if origin is None:
                return None, None
            # Any n_steps: the recurrent weights are shared by every step, so a
            # network trained with T steps can be fine-tuned to run more (on
            # rings, 25 steps from the 15-step model collapse them further:
            # doc/method.md).
            network, _ = pretrained_models.load_pretrained(origin)
            source = f"the pretrained model {origin!r}"
        if network.hidden_size != hidden_size:
            # warm_start takes precedence over init: init=None would not help there.
            other = "warm_start=False" if origin == "warm_start" else "init=None"
            raise ValueError(
                f"hidden_size={hidden_size} but {source} has hidden_size="
                f"{network.hidden_size}; set hidden_size={network.hidden_size} or {other}."
            )
        return {k: v.detach().clone() for k, v in network.state_dict().items()}, origin

    def collapse_fov(self, X):
        """Collapse one FOV and return the cluster length scale used.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            One FOV.

        Returns
        -------
        X_collapsed : ndarray of shape (n_localizations, 2)
        cluster_radius : float
            For a pretrained model: ``cluster_radius`` when given, else its
            estimate on this FOV. For a fitted model: the RMS radius its length
            unit stands for (``length_scale_ / 0.4``).
        """
        check_is_fitted(self, "model_")
        X = check_coordinates(X, estimator=self, reset=False, min_points=1)
        if isinstance(self.model_, pretrained_models.PretrainedMIRO):
            self._check_cluster_radius()
            return self.model_.collapse_fov(X, self.cluster_radius, verbose=self.verbose,
                                            tile_size=self.tile_size, crop_features=self.crop_features)
        radius = self.length_scale_ / pretrained_models.UNIT_IN_CLUSTER_RADII
        return self.transform(X), float(radius)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Train MIRO on labelled FOVs (a pretrained model without labels: kept as it is).

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates (usually nm). A DataFrame is reduced to its x and y columns.
        y : array-like of shape (n_localizations,)
            Integer cluster label of every localisation, -1 for background
            (scikit-learn's noise convention). At least one cluster is needed.
            Required, except for a model from :meth:`pretrained` (see Notes).
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation; absent means one FOV.

        Returns
        -------
        self : MIROTransformer

        Notes
        -----
        With ``init`` (or ``warm_start=True`` on a fitted estimator) training
        starts from those weights. The units are then those of the labelled
        clusters (``length_scale="auto"``: 0.4 x their median RMS radius;
        connectivity radius 3.5 mean spacings), the units the pretrained
        models were trained in, and ``transform`` uses them for every FOV.

        On a model returned by :meth:`pretrained` (and not fitted with labels
        since), ``fit(X)`` without ``y`` has nothing to fine-tune on: the
        network is kept as it is and only X is checked (its column names
        recorded), so that ``Pipeline([("miro", MIROTransformer.pretrained()),
        ("dbscan", DBSCAN())]).fit_predict(X)`` runs zero-shot. ``fit(X, y)``
        fine-tunes it on the labels (from ``init``, the pretrained model's
        name), after which it is an ordinary fitted transformer.
        """
        if y is None and self._is_pretrained_as_shipped():
            X = check_coordinates(X, estimator=self, reset=True, min_points=1, groups=groups)
            check_groups(groups, X.shape[0])
            return self
        options = self._augmentation_options()
        # Resolved first: an unknown init fails before the data are checked.
        pretrained_start = self._pretrained_start()
        X, groups, fov_indices = self._validate_fit_input(X, groups)
        labels = check_cluster_labels(y, X.shape[0], name="y")[:, None]
        warn_if_zero_is_background(labels[:, 0], X=X, groups=groups)
        # Before anything is read off the labelled clusters (their crops' sizes too).
        X, labels, groups, fov_indices, _ = merge_copies(X, labels, groups, fov_indices)
        elongated = self._elongated_start(X, labels, fov_indices, options, pretrained_start)
        if elongated is None:
            hidden_size, origin, note = self._resolved_hidden_size(), pretrained_start, ""
        else:
            hidden_size, origin, note = elongated
        initial_state, started_from = self._initial_state(hidden_size, origin)
        # n_steps="auto" lets the training core choose the depth on the
        # labelled clusters only when fine-tuning a pretrained model, where the
        # rule was measured; a warm start keeps its network's depth, random
        # weights get the default.
        n_steps = self.n_steps
        if n_steps == "auto" and started_from == "warm_start":
            n_steps = self.model_.n_steps
        elif n_steps == "auto" and initial_state is None:
            n_steps = DEFAULT_N_STEPS
        config = self._training_config(options, fine_tuning=initial_state is not None, n_steps=n_steps,
                                       hidden_size=hidden_size, training_note=note)
        self._fit_model(X, labels, groups, fov_indices, config,
                        initial_state=initial_state, started_from=started_from)
        # Fine-tuned (or trained): no longer the shipped model, and clone no longer keeps it.
        self.__dict__.pop(_PRETRAINED_FLAG, None)
        return self

    def transform(self, X, groups=None, step=None, passes=1):
        """Move every localisation towards the centre of its cluster.

        Parameters
        ----------
        X : array-like of shape (n_localizations, 2) or DataFrame
            Coordinates in the units used for training.
        groups : array-like of shape (n_localizations,), optional
            FOV id of every localisation: each FOV is processed as its own graph.
        step : int, optional
            Recurrent step whose prediction is used (default: the last one);
            with several passes, that of the last pass.
        passes : int >= 1, default=1
            How many times the network runs, each run on the previous one's
            output (what ``MIROClusterer(collapse_passes=...)`` clusters). All
            runs keep the first one's units: the model's own for a fitted
            model; for a pretrained one, each FOV's cluster radius and mean
            spacing, not estimated again on the collapsed points. The
            exception is a fitted model with ``fov_normalization`` "minmax" or
            "reference" (the authors' convention), which scales every run's
            input to [0, 1] again, as it was trained to. Only X is checked
            against the training data.

        Returns
        -------
        X_collapsed : ndarray of shape (n_localizations, 2)
            Collapsed coordinates in the units of X. Localisations without any
            neighbour closer than the connectivity radius are not moved.
        """
        passes = check_pass_count(passes, "passes", 1, "runs of the network")
        X, _, fov_indices = self._prepare_predict_input(X, groups)
        steps = [self._resolve_step(step)]
        if isinstance(self.model_, pretrained_models.PretrainedMIRO):
            self._check_cluster_radius()
            return self.model_.collapse(X, fov_indices, steps, cluster_radius=self.cluster_radius,
                                        verbose=self.verbose, tile_size=self.tile_size,
                                        crop_features=self.crop_features, passes=passes)[0].moved[0]
        # A fitted model's units are its own, so a later pass is the network on the last output.
        moved = X
        for done in range(passes):
            last = [self._resolve_step(None)] if done < passes - 1 else steps
            moved = self._collapse(moved, fov_indices, last).moved[0]
        return moved

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the moved x and y coordinates.

        The input's coordinate names (``feature_names_in_``: ``x`` and ``y``
        for a DataFrame, whatever their unit suffix, see
        :func:`sklearn_miro._validation.select_xy`), or ``input_features``;
        without names, scikit-learn's default ``x0``, ``x1``. A model from
        :meth:`pretrained` that no DataFrame was fitted on names them ``x``
        and ``y``, so that ``set_output(transform="pandas")`` gives the
        coordinates' names.

        Parameters
        ----------
        input_features : array-like of str or None, default=None

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        if (input_features is None and "feature_names_in_" not in self.__dict__
                and self._is_pretrained_as_shipped()):
            return np.asarray(["x", "y"], dtype=object)
        return super().get_feature_names_out(input_features)

    def fit_transform(self, X, y=None, groups=None):
        """Fit, then transform the training data (each FOV on its own).

        When several FOVs are given, the output of each FOV keeps its own
        coordinates, so the FOVs overlap: a clusterer applied to the stacked
        output (for example DBSCAN as the next step of a Pipeline) mixes them.
        :class:`MIROClusterer` clusters each FOV separately. On a model from
        :meth:`pretrained` without ``y``, ``fit`` keeps the network (see
        :meth:`fit`): the output is the zero-shot ``transform``.
        """
        self.fit(X, y, groups=groups)
        # The x and y columns only: what fit read and warned about is not read again.
        Xt = self.transform(select_xy(X), groups=groups)
        if self._is_pretrained_as_shipped():
            n_fovs = len(split_by_group(check_groups(groups, len(Xt)), len(Xt)))
        else:
            n_fovs = self.n_fovs_
        if n_fovs > 1:
            warnings.warn(
                f"fit_transform got {n_fovs} FOVs; their collapsed coordinates share one "
                "coordinate range, so a clusterer fitted on this output (e.g. DBSCAN after "
                "MIROTransformer in a Pipeline) sees the FOVs on top of each other. Use "
                "MIROClusterer, which clusters every FOV on its own.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        return Xt
