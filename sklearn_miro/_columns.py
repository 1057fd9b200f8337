"""The names of localisation-table columns: which header means which quantity, in which unit.

Shared by :mod:`sklearn_miro.io`, which reads and converts the columns, and by
:mod:`sklearn_miro._validation`, which warns when a DataFrame passed as
coordinates carries a z column; a module of its own below both, so that the
validators need not import the reader (which imports them).
"""

import re

__all__ = [
    "CANONICAL",
    "LABEL_SPELLINGS",
    "SPELLING_TO_CANONICAL",
    "UNIT_ALIASES",
    "parse_header",
    "z_coordinate_column",
]

# Canonical name -> accepted spellings, after lower-casing, removing a unit in
# brackets and turning spaces/dashes into underscores. Order = output order.
CANONICAL = {
    "x": ("x", "x_position", "position_x", "pos_x", "x_coordinate", "xpos"),
    "y": ("y", "y_position", "position_y", "pos_y", "y_coordinate", "ypos"),
    "z": ("z", "z_position", "position_z", "pos_z"),
    "frame": ("frame", "frames", "frame_number", "framenumber", "frame_index"),
    "uncertainty": (
        "uncertainty", "uncertainty_xy", "precision", "localization_precision",
        "localisation_precision", "loc_precision", "locprec",
    ),
    "uncertainty_x": ("uncertainty_x", "lpx", "locprecx", "precision_x"),
    "uncertainty_y": ("uncertainty_y", "lpy", "locprecy", "precision_y"),
    "uncertainty_z": ("uncertainty_z", "locprecz", "precision_z"),
    "intensity": ("intensity", "photons", "phot", "photon_count", "photon"),
    "background": ("background", "bg", "bkg"),
    "background_std": ("bkgstd", "bkg_std", "background_std"),
    "offset": ("offset",),
    "sigma": ("sigma", "psf_sigma", "psf_width"),
    "sigma_x": ("sigma_x", "sx", "psfx"),
    "sigma_y": ("sigma_y", "sy", "psfy"),
    "label": (
        "label", "labels", "index", "cluster", "cluster_id", "clusterid", "cluster_label",
        "cluster_index", "group",
    ),
}  # fmt: skip
SPELLING_TO_CANONICAL = {s: c for c, spellings in CANONICAL.items() for s in spellings}
#: Column names (lower case) that :func:`sklearn_miro.io.read_localizations` reads as cluster labels.
LABEL_SPELLINGS = frozenset(CANONICAL["label"])
_UNIT_IN_BRACKETS = re.compile(r"^(?P<name>.*?)\s*[\[(]\s*(?P<unit>[^\])]*?)\s*[\])]\s*$")
# Unit glued to the name, as in SMAP's "xnm", "locprecnm" or "x_nm", "x_px".
_UNIT_SUFFIX = re.compile(r"^(?P<name>.+?)_?(?P<unit>nm|px|pix|um)$")
UNIT_ALIASES = {
    "nm": "nm",
    "px": "px",
    "pix": "px",
    "pixel": "px",
    "pixels": "px",
    "um": "um",
    "µm": "um",
    "μm": "um",
    "micron": "um",
    "microns": "um",
    "photon": "photon",
    "photons": "photon",
    "frame": "frame",
    "frames": "frame",
}

def parse_header(column):
    """Split a header into (canonical name or None, unit or None)."""
    text = str(column).strip().strip('"').strip()
    unit = None
    match = _UNIT_IN_BRACKETS.match(text)
    if match:
        text, unit = match["name"], match["unit"].strip().lower()
    key = re.sub(r"[\s\-]+", "_", text.lower())
    if key in SPELLING_TO_CANONICAL:
        canonical = SPELLING_TO_CANONICAL[key]
    else:
        canonical = None
        match = _UNIT_SUFFIX.match(key)
        if match and match["name"] in SPELLING_TO_CANONICAL:
            canonical = SPELLING_TO_CANONICAL[match["name"]]
            unit = unit or match["unit"]
    if unit is not None:
        unit = UNIT_ALIASES.get(unit, unit)
    return canonical, unit


def z_coordinate_column(columns):
    """The first of ``columns`` that names a z coordinate, or None.

    Recognised as :func:`sklearn_miro.io.read_localizations` recognises its ``z`` column: any
    case, with or without a unit (``z``, ``Z``, ``z [nm]``, ``z (nm)``,
    ``z_nm``, ``znm``, ``z_position``, ``pos_z``). MIRO clusters in 2-D:
    :func:`sklearn_miro._validation.check_coordinates` and the command line
    warn that such a column is ignored.
    """
    for column in columns:
        if parse_header(column)[0] == "z":
            return column
    return None
