"""sklearn_miro: MIRO clustering of single-molecule localisation microscopy data.

MIRO (Pineda et al., Nat. Commun. 16, 9693, 2025) is a recurrent graph neural
network that moves every localisation of a cluster towards the cluster centre
and leaves background localisations in place, so that DBSCAN on the moved
points separates clusters far better.
"""

__version__ = "0.1.0"
