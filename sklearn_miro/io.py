"""Reading and writing localisation files.

* :func:`read_localizations` reads the CSV/TSV tables written by common SMLM
  software (ThunderSTORM, SMAP, the Nieves et al. benchmark, generic x/y
  tables) and Picasso HDF5 files, and returns a DataFrame with canonical column
  names (``x``, ``y`` in nm, then ``frame``, ``uncertainty``, ... and
  ``label``) whose units are recorded in ``df.attrs["units"]``.
* :func:`load_benchmark` loads one scenario folder of the benchmark of Nieves
  et al. (2023) with the reference implementation's training/test split.
* :func:`write_labels` writes coordinates and cluster labels to a CSV file.
* :func:`write_labels_as_source` writes labels into a copy of the user's own
  file, in its format (ThunderSTORM/any CSV, Picasso HDF5 + YAML), keeping
  every input column.
* :func:`read_picasso_info` and :func:`picasso_pixel_size` read Picasso's
  metadata (the YAML beside an HDF5 file); :func:`read_localizations` takes the
  pixel size from it when none is passed.
"""

from __future__ import annotations

import csv
import json
import operator
import re
import warnings
from itertools import chain, repeat
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._columns import CANONICAL, LABEL_SPELLINGS, SPELLING_TO_CANONICAL, UNIT_ALIASES, parse_header, z_coordinate_column
from ._validation import caller_stacklevel, check_cluster_labels, check_coordinates, check_positive

__all__ = [
    "DEFAULT_N_TRAINING_FOVS",
    "LABEL_SPELLINGS",
    "ShadowedLabelsWarning",
    "check_output_path",
    "load_benchmark",
    "picasso_pixel_size",
    "read_localizations",
    "read_picasso_info",
    "write_labels",
    "write_labels_as_source",
    "z_coordinate_column",
]

# Training FOVs of load_benchmark when neither training_indices nor metadata
# are available (the reference implementation trains on 3 FOVs).
DEFAULT_N_TRAINING_FOVS = 3

# --------------------------------------------------------------------------- #
# Column recognition
# --------------------------------------------------------------------------- #
_LENGTH_COLUMNS = {
    "x", "y", "z", "uncertainty", "uncertainty_x", "uncertainty_y", "uncertainty_z",
    "sigma", "sigma_x", "sigma_y",
}  # fmt: skip
# Columns that must hold numbers when present (labels may be anything).
_NUMERIC_COLUMNS = set(CANONICAL) - {"label"}

_TO_NM = {"nm": 1.0, "um": 1000.0}


# --------------------------------------------------------------------------- #
# Text files
# --------------------------------------------------------------------------- #
# Signatures of files that are certainly not localisation tables, with what
# they are; checked before any decoding so that the message can say so.
_MAGIC = (
    (b"\x80", "a Python pickle (perhaps a model saved with joblib: pass it as the model, not as a localisation file)"),
    (b"\x1f\x8b", "a gzip-compressed file (decompress it first, or it is a compressed joblib model)"),
    (b"\xfd7zXZ\x00", "an xz-compressed file (decompress it first)"),
    (b"PK\x03\x04", "a zip archive (a .npz, .xlsx or .miro model file? extract or export a CSV)"),
    (b"\x93NUMPY", "a NumPy .npy array (load it with numpy.load and pass the array)"),
    (b"\x89PNG", "a PNG image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
)
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
_NOT_A_TABLE = (
    "Localisation files must be delimited text (CSV/TSV with a header row naming "
    "the x and y columns) or Picasso HDF5 (.hdf5/.h5)."
)


def _compressed_model(head):
    """True for a zlib or bz2 stream, which is how joblib compresses models."""
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return not head[1] & 0x20  # no preset dictionary: 'x ' (x, space) is text
    return head[:3] == b"BZh" and head[4:10] == b"1AY&SY"


# Control characters that do not occur in text tables (all below 32 except tab,
# line feed, form feed and carriage return).
_CONTROL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 12, 13))


def _text_encoding(head):
    """The encoding of a text file from its first bytes, or None if it is binary.

    Byte-order marks (UTF-8, UTF-16, UTF-32) are honoured, and UTF-16 without a
    mark is recognised by its zero bytes; otherwise UTF-8 is tried, then
    Latin-1 for text with only a few non-ASCII bytes. Data with NUL bytes or
    many control characters is binary.
    """
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    even, odd = head[0::2], head[1::2]
    if len(head) >= 8 and odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
        return "utf-16-le"
    if len(head) >= 8 and even.count(0) > 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
        return "utf-16-be"
    if b"\x00" in head:
        return None
    # One pass (deleting them), not one count per control character: 28 passes
    # over the 64 KB head were a tenth of the time to read a 50,000-row file.
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    if control > 0.01 * len(head):
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not (len(head) == 65536 and exc.start >= len(head) - 3):
            return "latin-1"
    return "utf-8-sig"


def _sniff_text(path):
    """Return (encoding, delimiter) of a delimited text file, or raise ValueError.

    The error names what the file looks like when it is not a text table
    (binary data, a model file, JSON, an image ...).
    """
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise ValueError(f"{path} is empty: it contains no header and no localisations.")
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise ValueError(f"{path} is not a localisation table: it looks like {what}. {_NOT_A_TABLE}")
    if _compressed_model(head):
        raise ValueError(
            f"{path} is not a localisation table: it looks like a compressed file (perhaps a "
            f"model saved with joblib: pass it as the model, not as a localisation file). "
            f"{_NOT_A_TABLE}"
        )
    encoding = _text_encoding(head)
    if encoding is None:
        raise ValueError(
            f"{path} is not a localisation table: it contains binary data, not text. "
            f"{_NOT_A_TABLE}"
        )
    cut = len(head) - (len(head) % 4 if encoding.startswith(("utf-16", "utf-32")) else 0)
    text = head[:cut].decode(encoding, errors="ignore")
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "["):
        raise ValueError(
            f"{path} is not a localisation table: it looks like JSON (it starts with "
            f"{stripped[:1]!r}). {_NOT_A_TABLE}"
        )
    if stripped[:5].lower() in ("<?xml", "<html", "<!doc"):
        raise ValueError(
            f"{path} is not a localisation table: it looks like XML/HTML. {_NOT_A_TABLE}"
        )
    header = re.sub(r'"[^"]*"', "_", _first_filled_line(text))  # ignore delimiters inside quotes
    counts = {d: header.count(d) for d in ("\t", ",", ";", "|")}
    delimiter = max(counts, key=counts.get)
    if counts[delimiter] == 0:
        if len(header.split()) > 1:
            delimiter = r"\s+"
        else:
            delimiter = ","  # a single column: reported below as missing x/y
    return encoding, delimiter


def _first_filled_line(text):
    """The first line of ``text`` that is not blank, as ``str.splitlines`` splits it.

    Splitting the whole 64 KB head into lines to keep the first was a tenth of
    the time to read a 50,000-row file: growing prefixes are split instead. A
    line followed by another within a prefix is a whole line of ``text``.
    Text with no such line raises IndexError, as indexing the empty list did.
    """
    size = 1024
    while size < len(text):
        lines = text[:size].splitlines()
        for line in lines[:-1]:
            if line.strip():
                return line
        size *= 8
    return [line for line in text.splitlines() if line.strip()][0]


def _looks_numeric(token):
    try:
        float(str(token).strip().strip('"'))
    except ValueError:
        return False
    return True


def _to_numeric(df, column, path, *, allow_missing):
    """The column as numbers; raise naming the first offending row otherwise."""
    values = df[column]
    if isinstance(values.dtype, np.dtype) and (
        values.dtype.kind in "iu"
        or (values.dtype.kind == "f" and (allow_missing or not np.isnan(values.to_numpy()).any()))
    ):
        # Numbers already (what pandas makes of nearly every column): nothing to
        # convert, and the masks below would only confirm it, at four passes
        # over the column. NumPy integers cannot be missing; the nullable
        # extension dtypes (pd.NA) take the general path.
        return values
    if values.dtype.kind in "iuf":
        converted = values
    else:
        converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna().to_numpy().copy()
    if allow_missing:
        bad &= values.notna().to_numpy()  # only text that is not a number
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = values.iloc[row]
        what = "a missing value" if pd.isna(value) else f"the non-numeric value {value!r}"
        hint = ""
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", value):
            hint = (" It looks like a decimal comma: save the table with decimal points "
                    "(e.g. pandas: pd.read_csv(path, sep=';', decimal=',').to_csv(new_path, index=False)).")
        raise ValueError(
            f"{path}: column {column!r} has {what} at data row {row + 1} (line "
            f"{row + 2} of the file); this column must be numeric.{hint}"
        )
    return converted


def _read_text(path, sep):
    encoding, delimiter = _sniff_text(path) if sep is None else (_sniff_text(path)[0], sep)
    options = dict(sep=delimiter, encoding=encoding, skipinitialspace=True)
    try:
        # The header as written (pandas would rename a duplicate 'x' to 'x.1').
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, **options).iloc[0]
        names = [str(c).strip().strip('"').strip() for c in header.tolist()]
        if all(_looks_numeric(c) for c in names):
            # Before the duplicate test: a first data row "1,1,100.5,..." is no header.
            raise _no_header(path, names)
        duplicates = sorted({c for c in names if names.count(c) > 1})
        if duplicates:
            raise ValueError(
                f"{path}: duplicate column name(s) {duplicates} in the header {names}; every "
                "column must have its own name."
            )
        _check_extra_fields(path, len(names), options)
        # index_col=False: a row with more fields than the header must never
        # turn the first column into the index and shift the others.
        table = _read_table_faster(path, options, encoding, delimiter)
        if table is None:
            table = pd.read_csv(path, index_col=False, **options)
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path} is empty: it contains no header and no localisations.") from exc
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            raise ValueError(
                f"{path}: line {match[2]} has {match[3]} fields but the header has "
                f"{match[1]} column names, so its values cannot be matched to the columns. "
                "Fix the header or that line."
            ) from exc
        raise ValueError(f"Could not parse {path} as a delimited text table: {exc}") from exc
    except (UnicodeDecodeError, UnicodeError) as exc:
        raise ValueError(
            f"Could not decode {path} as {encoding} text: {exc}. Save it as UTF-8."
        ) from exc
    if all(_looks_numeric(c) for c in table.columns):
        raise _no_header(path, list(table.columns))
    return table


def _read_table_faster(path, options, encoding, delimiter):
    """``pd.read_csv(path, index_col=False, **options)`` with cheaper options that read
    the same table, or None when there are none or that read fails.

    * ``skipinitialspace`` (for "x, y, index" tables) costs pandas's tokenizer a
      quarter to a third of its time on every field; it is left out when no
      field starts with a space (:func:`_fields_may_start_with_space`), as in
      most files.
    * ``utf-8-sig`` (UTF-8 with or without a byte-order mark) makes pandas
      decode the text in Python before its C parser encodes it again; a file
      without the mark is UTF-8 as it is (4-8 % of a serial read).

    A failed read returns None rather than raising: the caller then reads with
    the original options, so that a bad file gets the error it always got
    (pandas's messages, e.g. for undecodable bytes, depend on the path taken).

    Returns
    -------
    DataFrame or None
    """
    faster = dict(options)
    if options.get("skipinitialspace") and not _fields_may_start_with_space(path, encoding, delimiter):
        faster["skipinitialspace"] = False
    if encoding == "utf-8-sig":
        with open(path, "rb") as handle:
            if handle.read(3) != b"\xef\xbb\xbf":
                faster["encoding"] = "utf-8"
    if faster == options:
        return None
    try:
        return pd.read_csv(path, index_col=False, **faster)
    except Exception:  # noqa: BLE001 - the original read reports it
        return None


# Bytes read at a time by _fields_may_start_with_space: memory stays bounded
# whatever the file's size.
_SCAN_CHUNK = 1 << 20


def _fields_may_start_with_space(path, encoding, delimiter):
    """False only when certainly no field of the text file starts with a space.

    Then pandas's ``skipinitialspace=True`` is a no-op and can be left out: it
    drops spaces at the start of a field only (after a delimiter or at the
    start of a line; not tabs, not inside quotes). The header line is checked
    for a space at the start of a field, the rest of the file for any space
    byte at all (a few milliseconds per 100 MB). Whenever that test cannot be
    exact (encodings where a space is not the byte 0x20 alone, delimiters that
    are not one ASCII character or are whitespace, a first line longer than
    the chunk read) the answer is True, and the file is read with
    ``skipinitialspace`` as before.

    Parameters
    ----------
    path : Path
        The file.
    encoding : str
        Its encoding, as :func:`_sniff_text` found it.
    delimiter : str
        The delimiter it is read with.

    Returns
    -------
    bool
    """
    if (
        encoding not in ("utf-8-sig", "latin-1")
        or len(delimiter) != 1
        or not delimiter.isascii()
        or delimiter.isspace()
        or delimiter == '"'
    ):
        return True
    with open(path, "rb") as handle:
        buffer = bytearray(_SCAN_CHUNK)
        size = handle.readinto(buffer)
        start = 3 if encoding == "utf-8-sig" and buffer.startswith(b"\xef\xbb\xbf") else 0
        ends = [i for i in (buffer.find(b"\n", start, size), buffer.find(b"\r", start, size)) if i != -1]
        if not ends:
            return True  # no line break in the first chunk: not worth an exact answer
        end = min(ends)
        first_line = bytes(buffer[start:end])
        separator = re.escape(delimiter.encode("ascii"))
        if re.search(rb"(?:^|" + separator + rb") ", first_line):
            return True
        position = end
        while size:
            if buffer.find(b" ", position, size) != -1:
                return True
            size, position = handle.readinto(buffer), 0
    return False


def _no_header(path, first_line):
    return ValueError(
        f"{path} has no header row: its first line {first_line} holds "
        "numbers. Add a header with the column names (e.g. x,y)."
    )


def _check_extra_fields(path, n_names, options):
    """Raise when the first data row has more fields than the header.

    pandas decides the table's width from the first data row: with more fields
    there than names, it would shift the columns (or, with ``index_col=False``,
    drop the extra values of every row silently). Rows further down with too
    many fields make pandas fail (reported by :func:`_read_text`). Extra fields
    that are all empty are trailing delimiters and are accepted.
    """
    try:
        first = pd.read_csv(path, header=None, skiprows=1, nrows=1, dtype=str, **options)
    except pd.errors.EmptyDataError:
        return  # a header and no data: reported by the caller
    if first.shape[1] <= n_names:
        return
    extra = first.iloc[0, n_names:]
    if extra.isna().all():
        # A trailing delimiter: check that no row has a value there.
        rest = pd.read_csv(
            path, header=None, skiprows=1, names=range(first.shape[1]),
            usecols=range(n_names, first.shape[1]), dtype=str, **options
        )
        filled = rest.notna().any(axis=1).to_numpy()
        if not filled.any():
            return
        row = int(np.flatnonzero(filled)[0])
        values = rest.iloc[row].dropna().tolist()
    else:
        row, values = 0, extra.dropna().tolist()
    raise ValueError(
        f"{path}: data row {row + 1} (line {row + 2} of the file) has more fields than the "
        f"{n_names} column names of the header (extra value(s) {values}), so its values "
        "cannot be matched to the columns. Fix the header or that row."
    )


# --------------------------------------------------------------------------- #
# Picasso HDF5
# --------------------------------------------------------------------------- #
_PICASSO_PIXEL_COLUMNS = ("x", "y", "lpx", "lpy", "sx", "sy")


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path):
    """True when the file starts with the HDF5 signature, whatever its extension."""
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == _HDF5_SIGNATURE
    except OSError:
        return False


def _read_hdf5(path, key):
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            f"Reading {path} (Picasso HDF5) needs h5py, which is not installed. "
            "Install it with `pip install sklearn-miro[hdf5]` (or `pip install h5py`)."
        ) from exc
    try:
        with h5py.File(path, "r") as handle:
            if key not in handle:
                raise ValueError(
                    f"{path} has no dataset {key!r} (Picasso stores localisations in "
                    f"'locs'); datasets found: {list(handle.keys())}."
                )
            records = handle[key][...]
    except OSError as exc:
        raise ValueError(f"Could not read {path} as an HDF5 file: {exc}") from exc
    if records.dtype.names is None:
        raise ValueError(f"{path}: dataset {key!r} is not a table with named columns.")
    return pd.DataFrame({name: records[name] for name in records.dtype.names})


# --------------------------------------------------------------------------- #
# Public reader
# --------------------------------------------------------------------------- #
def _explicit_columns(columns):
    """The ``columns`` argument of :func:`read_localizations` with canonical keys.

    Keys may be any spelling the reader recognises (``"cluster"`` or
    ``"precision"`` as well as ``"label"`` or ``"uncertainty"``): only
    canonical names are output columns, so a spelling left as it is would
    match nothing and its column would be dropped without a word.
    """
    if columns is None:
        return {}
    if not isinstance(columns, dict):
        raise TypeError(
            "columns must be a dict mapping output names to the file's column names, e.g. "
            f"{{'x': 'Xc', 'y': 'Yc'}}; got {type(columns).__name__}."
        )
    explicit, given = {}, {}
    for key, original in columns.items():
        canonical = SPELLING_TO_CANONICAL.get(re.sub(r"[\s\-]+", "_", str(key).strip().lower()))
        if canonical is None:
            raise ValueError(
                f"columns has the key {key!r}, which is not a column read_localizations "
                f"knows; accepted names: {list(CANONICAL)} (or a spelling of one, such as "
                "'cluster' for 'label' or 'precision' for 'uncertainty'). Columns that are "
                "not mapped are kept under their own names."
            )
        if canonical in explicit:
            raise ValueError(
                f"columns maps both {given[canonical]!r} and {key!r} to the output column "
                f"{canonical!r}; give one file column per output column."
            )
        if original in explicit.values():
            other = next(given[c] for c, o in explicit.items() if o == original)
            raise ValueError(
                f"columns maps the file's column {original!r} to both {other!r} and "
                f"{key!r}; a column can be read as one output column only."
            )
        explicit[canonical], given[canonical] = original, key
    return explicit


def _float64_array(values):
    """``values.astype(np.float64)`` as an ndarray, without a copy when it is float64 already.

    Parameters
    ----------
    values : pandas.Series

    Returns
    -------
    ndarray of float64
    """
    if isinstance(values.dtype, np.dtype) and values.dtype == np.float64:
        return values.to_numpy()
    return values.astype(np.float64).to_numpy()


def _column_array(values):
    """A column of :func:`read_localizations`'s output as an array.

    Numbers and booleans (NumPy dtypes) are not copied: ``pd.DataFrame`` copies
    them when it gathers the columns of one dtype into a block, so a copy here
    would be a second one (and ``raw``, which they come from, is dropped).
    Other columns (text, extension dtypes) are copied as they always were.

    Parameters
    ----------
    values : pandas.Series or ndarray
        The column.

    Returns
    -------
    ndarray
    """
    if isinstance(values, np.ndarray):
        return values
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf":
        return values.to_numpy()
    return values.to_numpy(copy=True)


def read_localizations(
    path, *, pixel_size=None, coordinate_unit=None, columns=None, sep=None, hdf5_key="locs"
):
    """Read a localisation table into a DataFrame with canonical columns.

    Recognised layouts include the benchmark's ``x,y,index``, ThunderSTORM
    (``"x [nm]","y [nm]",frame,"uncertainty [nm]"`` or ``"uncertainty_xy [nm]"``,
    ``"intensity [photon]"``, ``"sigma [nm]"``, ``"offset [photon]"``,
    ``"bkgstd [photon]"``), SMAP (``xnm``, ``ynm``, ``locprecnm``, ``phot``),
    generic tables with x/y columns in any case, and Picasso HDF5 files
    (``.hdf5``/``.h5``, table ``locs``, needs h5py). The delimiter (comma,
    tab, semicolon, pipe or whitespace) is detected from the header.

    Parameters
    ----------
    path : str or path-like
        The file.
    pixel_size : float, default=None
        Camera pixel size in nm, used to convert length columns given in
        pixels (Picasso's x, y, lpx, lpy, sx, sy; headers such as ``x [px]``).
        Required for such files, except Picasso HDF5 files whose metadata
        (the YAML file beside them, or the metadata embedded by recent
        Picasso versions) gives ``Pixelsize``: that value is used when
        ``pixel_size`` is None (see :func:`picasso_pixel_size`).
    coordinate_unit : {"nm", "um", "px"}, default=None
        Unit of length columns whose header names none. By default they are
        taken to be nm (Picasso HDF5: pixels).
    columns : dict, default=None
        Explicit mapping from canonical names to the file's column names, e.g.
        ``{"x": "Xc", "y": "Yc"}``, overriding the automatic recognition.
        Keys may also be spellings the reader recognises (``"cluster"`` for
        ``label``, ``"precision"`` for ``uncertainty``, ...). To read another
        column than the first label-like one as the labels, e.g. the
        ``cluster`` column that :func:`write_labels_as_source` adds to a
        benchmark file, pass ``{"label": "cluster"}``; the other label-like
        columns are then kept under their own names.
    sep : str, default=None
        Delimiter; detected when None.
    hdf5_key : str, default="locs"
        Dataset holding the localisations in an HDF5 file.

    Returns
    -------
    df : pandas.DataFrame
        Columns ``x`` and ``y`` (float64, nm) first, then the recognised
        columns present among ``z``, ``frame``, ``uncertainty``,
        ``uncertainty_x``/``_y``/``_z``, ``intensity``, ``background``,
        ``background_std``, ``offset``, ``sigma``, ``sigma_x``/``_y`` (lengths
        converted to nm), then ``label`` for a label/cluster/index column
        (values as in the file: the benchmark's background stays 0), then any
        other column under its original name. ``df.attrs`` holds ``"units"``
        (canonical column -> unit, e.g. ``{"x": "nm", ...}``), ``"source"`` (the
        path) and ``"original_columns"`` (canonical -> original name).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty, not a readable table, lacks x/y columns (the
        message lists the columns found) or has non-numeric or missing values
        in a numeric column (the message names the column and the row), or
        if ``columns`` has an unknown key, maps two keys to one output column
        or one file column to two keys, or names a column the file lacks.
    TypeError
        If ``columns`` is not a dict.
    ImportError
        For an HDF5 file when h5py is not installed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Localisation file not found: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a localisation file.")
    if pixel_size is not None:
        pixel_size = float(check_positive(pixel_size, "pixel_size"))
    if coordinate_unit is not None:
        unit = UNIT_ALIASES.get(str(coordinate_unit).strip().lower())
        if unit not in ("nm", "um", "px"):
            raise ValueError(
                f"coordinate_unit must be one of 'nm', 'um' (also 'µm', 'micron') or 'px' "
                f"(also 'pixel', with pixel_size); got {coordinate_unit!r}."
            )
        coordinate_unit = unit

    is_hdf5 = path.suffix.lower() in (".hdf5", ".h5", ".hdf") or _is_hdf5(path)
    if is_hdf5:
        raw = _read_hdf5(path, hdf5_key)
        default_length_unit = coordinate_unit or "px"
        if pixel_size is None:
            pixel_size = picasso_pixel_size(path)  # Picasso's YAML beside the file
    else:
        raw = _read_text(path, sep)
        default_length_unit = coordinate_unit or "nm"
    if raw.shape[0] == 0:
        raise ValueError(
            f"{path} has a header ({list(raw.columns)}) but no localisations."
        )

    # Map every column to a canonical name (first match wins).
    mapping, units = {}, {}
    explicit = _explicit_columns(columns)
    for canonical, original in explicit.items():
        if original not in raw.columns:
            raise ValueError(
                f"columns maps {canonical!r} to {original!r}, which is not a column of "
                f"{path}; columns found: {list(raw.columns)}."
            )
    taken = set(explicit.values())
    for original in raw.columns:
        canonical, unit = parse_header(original)
        if original in taken:
            canonical = next(c for c, o in explicit.items() if o == original)
        elif canonical in explicit or canonical in mapping:
            canonical = None  # a second spelling of an already-found column
        if canonical is None:
            continue
        mapping[canonical] = original
        if unit is not None:
            units[canonical] = unit

    missing = [c for c in ("x", "y") if c not in mapping]
    if missing:
        raise ValueError(
            f"{path}: no {' and no '.join(repr(c) for c in missing)} coordinate column. "
            f"Columns found: {list(raw.columns)}. Expected names such as x/y, "
            "'x [nm]'/'y [nm]' (ThunderSTORM) or xnm/ynm (SMAP); pass "
            "columns={'x': ..., 'y': ...} to name them explicitly."
        )

    out = {}
    for canonical in CANONICAL:
        if canonical not in mapping:
            continue
        original = mapping[canonical]
        values = raw[original]
        if canonical in _NUMERIC_COLUMNS:
            values = _to_numeric(raw, original, path, allow_missing=canonical not in ("x", "y"))
        if canonical in _LENGTH_COLUMNS:
            unit = units.get(canonical, default_length_unit)
            if is_hdf5 and original not in _PICASSO_PIXEL_COLUMNS and canonical not in units:
                unit = "nm"  # Picasso's z is already in nm
            if unit == "px":
                if pixel_size is None:
                    raise ValueError(
                        f"{path}: column {original!r} is in camera pixels; pass "
                        "pixel_size (nm per pixel) to convert it to nm."
                    )
                # Silent as pandas's operators were (x and y are checked below).
                with np.errstate(all="ignore"):
                    values = _float64_array(values) * pixel_size
            elif unit in _TO_NM:
                values = _float64_array(values)
                if _TO_NM[unit] != 1.0:  # v * 1.0 == v: nm needs no pass over the column
                    with np.errstate(all="ignore"):
                        values = values * _TO_NM[unit]
            else:
                raise ValueError(
                    f"{path}: column {original!r} has the unit {unit!r}; supported "
                    "length units are nm, um and px."
                )
            units[canonical] = "nm"
        elif canonical == "frame" and values.dtype.kind == "f":
            if values.notna().all() and np.all(values == np.round(values)):
                values = values.astype(np.int64)
        out[canonical] = _column_array(values)
        if canonical in ("x", "y"):
            out[canonical] = np.asarray(out[canonical], dtype=np.float64)
            finite = np.isfinite(out[canonical])
            if not finite.all():
                row = int(np.flatnonzero(~finite)[0])
                raise ValueError(
                    f"{path}: column {original!r} has a non-finite value at data row "
                    f"{row + 1} (line {row + 2} of the file)."
                )
    if "frame" in out and "frame" not in units:
        units["frame"] = "frame"
    for original in raw.columns:
        if original not in mapping.values():
            name = str(original)
            while name in out:
                name = f"{name}_"
            out[name] = _column_array(raw[original])

    df = pd.DataFrame(out)  # copies (consolidates) the NumPy columns: none is shared with raw
    df.attrs["units"] = {c: units[c] for c in df.columns if c in units}
    df.attrs["source"] = str(path)
    df.attrs["original_columns"] = {c: str(o) for c, o in mapping.items()}
    return df


# --------------------------------------------------------------------------- #
# Benchmark of Nieves et al. (2023)
# --------------------------------------------------------------------------- #
_METADATA_NAME = "benchmark_metadata.json"
_KIND_NAMES = {
    "ground_truth": "Ground Truth",
    "groundtruth": "Ground Truth",
    "gt": "Ground Truth",
    "blinking": "Multiple Blinking",
    "multiple_blinking": "Multiple Blinking",
    "mb": "Multiple Blinking",
}


def _scenario_key(folder):
    """'Ground Truth - Scenario 6' style key from the folder layout, or None."""
    name = folder.name
    if re.fullmatch(r"(Ground Truth|Multiple Blinking) - Scenario \d+", name):
        return name
    match = re.fullmatch(r"scenario[\s_\-]*(\d+)", name, flags=re.IGNORECASE)
    kind = _KIND_NAMES.get(re.sub(r"[\s\-]+", "_", folder.parent.name.lower()))
    if match and kind:
        return f"{kind} - Scenario {int(match[1])}"
    return None


def _find_metadata(folder):
    for ancestor in [folder, *folder.parents]:
        for candidate in (ancestor / _METADATA_NAME, ancestor / "reference" / _METADATA_NAME):
            if candidate.is_file():
                return candidate
    return None


def _metadata_entry(metadata, key, folder):
    """The scenario's metadata dict (or None) from a path, a dict or a search."""
    source = metadata
    if metadata is None:
        source = _find_metadata(folder)
        if source is None or key is None:
            return None  # nothing found, or no way to tell which entry applies
    if isinstance(source, (str, Path)):
        source = Path(source)
        if not source.is_file():
            raise FileNotFoundError(f"Benchmark metadata file not found: {source}")
        with open(source, encoding="utf-8") as handle:
            source = json.load(handle)
    if not isinstance(source, dict):
        raise ValueError(f"metadata must be a path or a dict; got {type(metadata).__name__}.")
    if "training_indices" in source:
        return source
    if key is None:
        raise ValueError(
            f"Cannot tell which scenario {folder} is (expected a folder named "
            "'scenario_N' inside 'ground_truth' or 'blinking', or 'Ground Truth - "
            "Scenario N'); pass scenario='Ground Truth - Scenario N'."
        )
    if key not in source:
        if metadata is None:
            return None  # a metadata file found by searching may just lack it
        raise ValueError(f"metadata has no entry {key!r}; entries: {sorted(source)}.")
    return source[key]


def _fov_number(name):
    numbers = re.findall(r"\d+", Path(name).stem)
    return int(numbers[-1]) if numbers else None


def _training_fovs(indices, ordered_numbers):
    n_files = len(ordered_numbers)
    indices = np.asarray(indices)
    if (
        indices.ndim != 1
        or indices.dtype.kind not in "iu"
        or np.any(indices < 1)
        or np.any(indices > n_files)
        or len(set(indices.tolist())) != indices.size
    ):
        raise ValueError(
            f"training_indices must be distinct 1-based positions in 1..{n_files}; "
            f"got {indices.tolist()}."
        )
    return [ordered_numbers[i - 1] for i in indices]


def load_benchmark(
    folder,
    *,
    training_indices=None,
    metadata=None,
    scenario=None,
    fov_numbers=None,
    file_order="numeric",
):
    """Load one scenario of the SMLM clustering benchmark of Nieves et al. (2023).

    The layout is that of ``shared/data/nieves2023/<ground_truth|blinking>/
    scenario_N``: one CSV per FOV with columns ``x``, ``y`` (nm) and ``index``
    (cluster id, 0 = background). Files are ordered by their FOV number, the
    *last* integer in the file name; the 1-based ``training_indices`` of the
    reference implementation are positions in that order (3 training FOVs,
    the other 47 are the test set).

    Parameters
    ----------
    folder : str or path-like
        The scenario folder.
    training_indices : sequence of int, default=None
        1-based positions of the training FOVs in the file order. When None,
        they are read from the scenario's entry of ``benchmark_metadata.json``
        (see ``metadata``); when no metadata is found, the first 3 FOVs in the
        file order are the training set (the reference's number of training
        FOVs; fewer when the folder has 3 files or less, always leaving one
        for testing unless there is only one), with a UserWarning naming them.
    metadata : str, path-like or dict, default=None
        The metadata: a path to ``benchmark_metadata.json``, its parsed
        content, or one scenario's entry. When None, a file named
        ``benchmark_metadata.json`` is looked for in the folder, its parents,
        and their ``reference/`` subfolders (which finds
        ``shared/reference/benchmark_metadata.json``).
    scenario : str, default=None
        Metadata key such as ``"Ground Truth - Scenario 6"`` or
        ``"Multiple Blinking - Scenario 5"``; derived from the folder names
        (``ground_truth``/``blinking`` and ``scenario_N``) when None.
    fov_numbers : sequence of int, default=None
        Load only these FOVs (the split is still defined on all files).
    file_order : {"numeric", "lexicographic"}, default="numeric"
        How to order files before applying ``training_indices``: by FOV number
        (the data's README), or by file name as a string. Scenarios 2 and 3
        have file names that start with a constant number
        (``normal_50single_...``), so the reference code's sort key was
        constant there and its order was the directory listing, probably
        lexicographic (Windows). For those scenarios the two orders select
        different training FOVs (GT-S2 [32, 19, 46] means FOVs 32, 19, 46
        numerically but 38, 26, 50 lexicographically): when evaluating the
        authors' checkpoints, use ``strict_test_mask``, which leaves out both
        candidate training sets.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        - ``X`` : ndarray (n, 2), float64, nm.
        - ``y`` : ndarray (n,), int64. Background (0 in the files) is -1;
          clusters are renumbered 0..n_clusters-1 uniquely across the loaded
          FOVs (FOV order, then the file's id order).
        - ``original_index`` : ndarray (n,), the file's ``index`` column.
        - ``groups`` : ndarray (n,), the FOV number of every localisation.
        - ``filenames`` : list of str, the loaded files in order.
        - ``fov_numbers`` : ndarray, the FOV number of each loaded file.
        - ``scenario`` : str or None, the metadata key.
        - ``training_indices`` : list of int (1-based).
        - ``train_fov_numbers``, ``test_fov_numbers`` : lists.
        - ``train_mask``, ``test_mask`` : boolean ndarrays (n,), so that
          ``X[train_mask]`` are the training localisations.
        - ``alternative_train_fov_numbers`` : list or None: the FOVs the
          other plausible file order would select when the reference code's
          order is ambiguous (scenarios 2 and 3), else None.
        - ``strict_test_mask`` : boolean ndarray: test FOVs that are
          in neither candidate training set (equal to ``test_mask`` when the
          order is unambiguous).
        - ``metadata`` : dict or None, the scenario's metadata entry.
        - ``units`` : ``{"x": "nm", "y": "nm"}``; ``DESCR`` : str.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Benchmark folder not found: {folder}")
    if file_order not in ("numeric", "lexicographic"):
        raise ValueError(f"file_order must be 'numeric' or 'lexicographic'; got {file_order!r}.")
    names = [p.name for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file()]
    if not names:
        raise ValueError(f"{folder} contains no .csv file.")
    numbers = {}
    for name in names:
        number = _fov_number(name)
        if number is None:
            raise ValueError(f"{folder / name}: the file name holds no FOV number.")
        if number in numbers:
            raise ValueError(
                f"{folder}: files {numbers[number]!r} and {name!r} have the same FOV number {number}."
            )
        numbers[number] = name
    numeric = sorted(numbers)
    by_name = [_fov_number(n) for n in sorted(names)]
    ordered = numeric if file_order == "numeric" else by_name

    if fov_numbers is None:
        selected = ordered
    else:
        selected = [int(n) for n in np.asarray(fov_numbers).ravel()]
        unknown = [n for n in selected if n not in numbers]
        if unknown:
            raise ValueError(f"FOV number(s) {unknown} not in {folder}; available: {numeric}.")
        selected = [n for n in ordered if n in set(selected)]

    key = scenario if scenario is not None else _scenario_key(folder)
    entry = _metadata_entry(metadata, key, folder)
    if training_indices is None and entry is not None:
        training_indices = entry["training_indices"]
    if training_indices is None:
        # No metadata: a documented default split rather than masks of None.
        n_default = max(1, min(DEFAULT_N_TRAINING_FOVS, len(ordered) - 1))
        training_indices = list(range(1, n_default + 1))
        warnings.warn(
            f"No training_indices given and no benchmark metadata found for {folder}: "
            f"using the first {n_default} FOV(s) in {file_order} order "
            f"(FOV number(s) {ordered[:n_default]}) for training and the other "
            f"{len(ordered) - n_default} for testing. Pass training_indices= to choose.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )

    train_fovs = test_fovs = alternative = None
    if training_indices is not None:
        training_indices = [int(i) for i in np.asarray(training_indices).ravel()]
        train_fovs = _training_fovs(training_indices, ordered)
        test_fovs = [n for n in ordered if n not in train_fovs]
        # The reference code sorted by the *first* integer of the file name;
        # when that is not the FOV number its order was undefined.
        first_integers = [int(re.findall(r"\d+", Path(n).stem)[0]) for n in names]
        if first_integers != [_fov_number(n) for n in names]:
            other = by_name if file_order == "numeric" else numeric
            alternative = _training_fovs(training_indices, other)


    Xs, indices, groups = [], [], []
    for number in selected:
        path = folder / numbers[number]
        table = read_localizations(path)
        if "label" not in table.columns:
            raise ValueError(
                f"{path} has no 'index' (cluster id) column; columns found: "
                f"{table.attrs['original_columns']}."
            )
        index = table["label"].to_numpy()
        if index.dtype.kind not in "iu":
            raise ValueError(f"{path}: the 'index' column must hold integer cluster ids.")
        if index.size and index.min() < 0:
            raise ValueError(
                f"{path}: the 'index' column holds negative ids (smallest {int(index.min())}); "
                "the benchmark format numbers clusters from 1 and marks background with 0."
            )
        Xs.append(table[["x", "y"]].to_numpy())
        indices.append(index.astype(np.int64))
        groups.append(np.full(len(table), number, dtype=np.int64))
    X = np.concatenate(Xs)
    original_index = np.concatenate(indices)
    group = np.concatenate(groups)

    # Unique cluster ids across FOVs: (FOV position, file id) -> 0..k-1.
    y = np.full(X.shape[0], -1, dtype=np.int64)
    clustered = original_index != 0
    position = np.concatenate([np.full(len(i), k, dtype=np.int64) for k, i in enumerate(indices)])
    if clustered.any():
        # One integer per (position, id), in the same order as the pairs sorted
        # lexicographically: np.unique on it gives the codes of np.unique(pairs,
        # axis=0), whose row sorting took 0.5-0.6 of the 1.2-1.4 CPU-s that
        # reading blinking scenario 5 took (now 0.8; same labels).
        # Ids so large that the key would overflow int64 (tests/test_io.py
        # has ids near 2**62) keep the row-wise np.unique.
        ids = original_index[clustered]
        low, high = int(ids.min()), int(ids.max())
        span = high - low + 1
        if span * (int(position.max()) + 1) < 2**62:
            _, codes = np.unique(position[clustered] * span + (ids - low), return_inverse=True)
        else:
            _, codes = np.unique(np.column_stack([position[clustered], ids]), axis=0, return_inverse=True)
        y[clustered] = codes.ravel()

    train_mask = test_mask = strict_test_mask = None
    if train_fovs is not None:
        train_mask = np.isin(group, train_fovs)
        test_mask = ~train_mask
        excluded = set(train_fovs) | set(alternative or ())
        strict_test_mask = ~np.isin(group, sorted(excluded))

    descr = (
        f"Benchmark of Nieves et al. (2023), {key or folder.name}: {len(selected)} FOV(s) of "
        f"{len(numbers)} from {folder}, {X.shape[0]} localisations, "
        f"{int(y.max()) + 1} clusters. Coordinates in nm; background label -1."
    )
    if train_fovs is not None:
        descr += (
            f" Training FOVs (1-based positions {training_indices} in {file_order} order): "
            f"{train_fovs}."
        )
        if alternative is not None:
            other_order = "lexicographic" if file_order == "numeric" else "numeric"
            descr += (
                f" Ambiguous reference order: the {other_order} order would select "
                f"FOVs {alternative}; strict_test_mask leaves out both."
            )
    return Bunch(
        X=X,
        y=y,
        original_index=original_index,
        groups=group,
        filenames=[numbers[n] for n in selected],
        fov_numbers=np.asarray(selected, dtype=np.int64),
        scenario=key,
        training_indices=training_indices,
        train_fov_numbers=train_fovs,
        test_fov_numbers=test_fovs,
        train_mask=train_mask,
        test_mask=test_mask,
        alternative_train_fov_numbers=alternative,
        strict_test_mask=strict_test_mask,
        metadata=entry,
        file_order=file_order,
        units={"x": "nm", "y": "nm"},
        feature_names=["x", "y"],
        DESCR=descr,
    )


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #
def check_output_path(path, *, overwrite=True, create_folder=False):
    """Check that a file can be written at ``path`` before any work is done.

    Parameters
    ----------
    path : str or path-like
    overwrite : bool, default=True
        When False, an existing file is an error (``FileExistsError``).
    create_folder : bool, default=False
        Create the parent folder when missing (else it is an error).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    IsADirectoryError
        ``path`` is a directory (give a file name inside it).
    FileExistsError
        The file exists and ``overwrite`` is False.
    FileNotFoundError
        The parent folder is missing (and ``create_folder`` is False) or
        cannot be created.
    PermissionError
        The parent folder is not writable.
    """
    import os

    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"Cannot write {path}: it is a directory; give a file name.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; refusing to overwrite it.")
    folder = path.parent
    if not folder.is_dir():
        blocking = next((p for p in [folder, *folder.parents] if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise FileNotFoundError(f"Cannot write {path}: {blocking} is a file, not a folder.")
        if not create_folder:
            raise FileNotFoundError(f"Cannot write {path}: folder {folder} does not exist.")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileNotFoundError(f"Cannot create the folder {folder} for {path}: {exc}") from exc
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"Cannot write {path}: folder {folder} is not writable.")
    return path


def _check_free_name(table, name, what, fix):
    """Raise when ``name`` equals a column of ``table`` in any case."""
    taken = {str(column).casefold(): column for column in table}
    found = taken.get(str(name).casefold())
    if found is not None:
        raise ValueError(
            f"The {what} {name!r} clashes with the output's column {found!r} (names are "
            f"compared ignoring case); {fix}."
        )


def write_labels(
    path, X, labels, *, groups=None, extra_columns=None, label_name="cluster", float_format=None
):
    """Write coordinates and cluster labels to a CSV file.

    Parameters
    ----------
    path : str or path-like
        Output file; its folder must exist. Overwritten if present.
    X : array-like of shape (n, 2) or DataFrame
        Coordinates (nm); a DataFrame is reduced to its x/y columns.
    labels : array-like of shape (n,) or (n, k)
        Integer cluster labels (-1 = background). A 2-D array (e.g. the two
        scales of :func:`~sklearn_miro.datasets.make_npc`) gives one column
        per scale.
    groups : array-like of shape (n,), default=None
        FOV ids, written as a ``fov`` column after x and y.
    extra_columns : dict or DataFrame, default=None
        Further columns (name -> values of length n), e.g. shape classes or
        MIRO's collapsed coordinates, written after the labels.
    label_name : str or list of str, default="cluster"
        Name of the label column; for 2-D labels a list of k names, or a
        prefix (``cluster_0``, ``cluster_1``, ...). It must differ from
        ``x``, ``y`` (and ``fov`` with ``groups``) in any case.
    float_format : str, default=None
        Format of floats (e.g. ``"%.3f"``); full precision when None.

    Returns
    -------
    path : pathlib.Path
        The written file, with columns ``x``, ``y``, [``fov``], the label
        column(s), then the extra columns. :func:`read_localizations` reads
        1-D labels back in its ``label`` column when ``label_name`` is a name
        it recognises as labels (:data:`LABEL_SPELLINGS`: the default
        ``cluster``, ``label``, ``cluster_id``, ...); other names, and the
        ``<label_name>_0``, ``<label_name>_1``, ... columns of 2-D labels,
        are kept under their own names. Select one of them as the labels
        with ``read_localizations(path, columns={"label": "cluster_0"})``.

    Raises
    ------
    ValueError
        If the labels or groups do not have one value per localisation, a
        label or extra column would have the name of another column (compared
        case-insensitively, as the reader matches names), or ``label_name``
        does not match the labels' shape.
    """
    path = check_output_path(path)
    X = check_coordinates(X, name="X")
    n = X.shape[0]
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        columns = [
            check_cluster_labels(labels[:, k], n, name="labels", require_cluster=False)
            for k in range(labels.shape[1])
        ]
        if isinstance(label_name, str):
            names = [f"{label_name}_{k}" for k in range(len(columns))]
        else:
            names = list(label_name)
            if len(names) != len(columns):
                raise ValueError(f"label_name has {len(names)} names for {len(columns)} label columns.")
    else:
        columns = [check_cluster_labels(labels, n, name="labels", require_cluster=False)]
        if not isinstance(label_name, str):
            raise ValueError("label_name must be a string for 1-D labels.")
        names = [label_name]
    table = {"x": X[:, 0], "y": X[:, 1]}
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(f"groups must have shape ({n},); got {groups.shape}.")
        table["fov"] = groups
    # Names are compared case-insensitively, as the reader matches headers: a
    # label column "X" beside "x" would be read back as the coordinates (or a
    # dict key "x" would silently replace them).
    for name, values in zip(names, columns):
        _check_free_name(table, name, "label column", "pass another label_name")
        table[name] = values
    if extra_columns is not None:
        items = extra_columns.items() if isinstance(extra_columns, dict) else extra_columns.items()
        for name, values in items:
            values = np.asarray(values)
            if values.shape[:1] != (n,):
                raise ValueError(
                    f"extra column {name!r} has {values.shape[0] if values.ndim else 0} "
                    f"values; expected {n}."
                )
            _check_free_name(table, name, "extra column", "rename it")
            table[name] = values
    pd.DataFrame(table).to_csv(path, index=False, float_format=float_format)
    return path


# --------------------------------------------------------------------------- #
# Picasso metadata (YAML beside the HDF5 file)
# --------------------------------------------------------------------------- #
def _yaml():
    try:
        import yaml
    except ImportError as exc:
        raise ImportError(
            "Reading or writing Picasso's YAML metadata needs PyYAML, which is not "
            "installed. Install it with `pip install sklearn-miro[hdf5]` (or `pip install pyyaml`)."
        ) from exc
    return yaml


def read_picasso_info(path):
    """The metadata Picasso keeps with an HDF5 localisation file.

    Picasso writes its metadata as a YAML file with the same name as the HDF5
    file (``locs.hdf5`` -> ``locs.yaml``): a sequence of documents, one per
    processing step (camera and movie first, then localisation, drift
    correction, clustering, ...). Recent versions also embed the same list as
    JSON in a ``metadata`` dataset of the HDF5 file; it is used when the YAML
    file is absent.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file (or the YAML file itself).

    Returns
    -------
    info : list of dict or None
        The documents in order, or None when neither a YAML file nor embedded
        metadata exists.

    Raises
    ------
    ValueError
        If the YAML file cannot be parsed.
    """
    path = Path(path)
    yaml_path = path if path.suffix.lower() in (".yaml", ".yml") else path.with_suffix(".yaml")
    if yaml_path.is_file():
        yaml = _yaml()
        try:
            with open(yaml_path, encoding="utf-8") as handle:
                # Picasso writes plain mappings; the safe loader is enough and
                # never runs code from the file.
                documents = [d for d in yaml.safe_load_all(handle) if d is not None]
        except yaml.YAMLError as exc:
            raise ValueError(f"Could not parse Picasso's metadata file {yaml_path}: {exc}") from exc
        return [dict(d) if isinstance(d, dict) else {"value": d} for d in documents]
    if path.is_file() and (path.suffix.lower() in (".hdf5", ".h5", ".hdf") or _is_hdf5(path)):
        try:
            import h5py
        except ImportError:
            return None
        try:
            with h5py.File(path, "r") as handle:
                if "metadata" not in handle:
                    return None
                raw = handle["metadata"][()]
        except OSError:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8")
        try:
            info = json.loads(str(raw))
        except ValueError:
            return None
        return [dict(d) for d in info if isinstance(d, dict)] if isinstance(info, list) else None
    return None


def picasso_pixel_size(path_or_info):
    """Camera pixel size in nm from Picasso metadata, or None if it has none.

    Picasso stores it as ``Pixelsize`` (nm) in the localisation step's
    document; the last document that has it wins (a later step may rescale).

    Parameters
    ----------
    path_or_info : str, path-like or list of dict
        The HDF5 file (its YAML file is read with :func:`read_picasso_info`)
        or the metadata documents.
    """
    info = path_or_info
    if isinstance(info, (str, Path)):
        info = read_picasso_info(info)
    if not info:
        return None
    value = None
    for document in info:
        if isinstance(document, dict) and document.get("Pixelsize") is not None:
            value = document["Pixelsize"]
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) and value > 0 else None


# --------------------------------------------------------------------------- #
# Writing labels back in the source's own format
# --------------------------------------------------------------------------- #
def _label_columns(labels, n_rows, label_name, default_name):
    """[(name, int array)] for 1-D or 2-D labels."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim == 2:
        columns = [
            check_cluster_labels(labels[:, k], n_rows, name="labels", require_cluster=False)
            for k in range(labels.shape[1])
        ]
        name = default_name if label_name is None else label_name
        if isinstance(name, str):
            names = [f"{name}_{k}" for k in range(len(columns))]
        else:
            names = [str(v) for v in name]
            if len(names) != len(columns):
                raise ValueError(f"label_name has {len(names)} names for {len(columns)} label columns.")
        return list(zip(names, columns))
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (n,) or (n, k); got {labels.shape}.")
    column = check_cluster_labels(labels, n_rows, name="labels", require_cluster=False)
    name = default_name if label_name is None else label_name
    if not isinstance(name, str):
        raise ValueError("label_name must be a string for 1-D labels.")
    return [(name, column)]


def _check_new_columns(existing, new_names, source):
    # Case-insensitive, as the readers match headers: a new "cluster" beside
    # an existing "Cluster" would be read back as the old column.
    present = {str(name).casefold(): str(name) for name in existing}
    clash = [name for name in new_names if str(name).casefold() in present]
    if clash:
        found = present[str(clash[0]).casefold()]
        raise ValueError(
            f"{source} already has a column named {found!r}; pass another label_name "
            f"than {clash[0]!r} so that no input column is overwritten or shadowed."
        )


def write_labels_as_source(
    path,
    source,
    labels,
    *,
    label_name=None,
    extra_columns=None,
    drop_background=None,
    description=None,
    hdf5_key="locs",
):
    """Write cluster labels into a copy of a localisation file, in its own format.

    Every column of ``source`` is kept unchanged (names, order, values,
    units), one row per input row in the input order, and the labels are
    added as new column(s). The format follows the source:

    - **delimited text** (ThunderSTORM, SMAP, the benchmark, any CSV/TSV):
      every line of the source is copied as it is (same bytes: values, quotes,
      delimiter, encoding, line endings) with the new fields appended to it,
      label column ``cluster`` by default; the new header names are quoted
      when the source's header is (ThunderSTORM's ``"x [nm]"`` style). A row
      with fewer fields than the header gets empty ones (``""`` in a
      whitespace-delimited file) and one with more loses its empty trailing
      fields, so that the new fields follow the header's last column. Missing
      values of extra columns are empty fields (``""`` when whitespace
      separates fields), dates and durations are written as text;
    - **Picasso HDF5** (``.hdf5``/``.h5``, or any file with the HDF5
      signature, as :func:`read_localizations` accepts): the ``locs`` table as
      a structured array with the source's fields and dtypes plus an int32
      ``group`` column (the name Picasso's Render colours clusters by), and a
      YAML file beside it (``<name>.yaml``) holding the source's metadata
      documents followed by one describing the clustering. Like Picasso's own
      clustering output, only clustered localisations are written by default
      (``drop_background``); Picasso needs the ``Width``, ``Height`` and
      ``Frames`` of the movie in the metadata, so the source must have them.
      Text extra columns are stored as UTF-8 byte strings (Picasso's
      fixed-length strings; ``value.decode("utf-8")`` gives the text back).

    When the source already has a column that :func:`read_localizations`
    reads as labels (any of :data:`LABEL_SPELLINGS`, e.g. the benchmark's
    ``index``), that column stays first and is the one read back as
    ``label``; a UserWarning says so. Read the new labels back with
    ``read_localizations(path, columns={"label": "cluster"})`` (the name of
    the new column).

    Parameters
    ----------
    path : str or path-like
        The new file (its folder must exist). For Picasso output use a
        ``.hdf5`` name; the ``.yaml`` is written beside it.
    source : str or path-like
        The localisation file the labels belong to (the one read with
        :func:`read_localizations`).
    labels : array-like of shape (n_rows,) or (n_rows, k)
        Integer cluster labels, -1 for background, one per row of the source.
        Two-scale labels give ``<name>_0``, ``<name>_1`` columns (Picasso:
        ``group`` is then the first scale and ``group_1`` the second).
    label_name : str or list of str, default=None
        Name of the label column(s): ``"cluster"`` for text, ``"group"`` for
        Picasso.
    extra_columns : dict, default=None
        Further per-row columns to add (name -> 1-D values, one per row of
        the source), e.g. shape classes.
    drop_background : bool, default=None
        Leave out localisations whose (first) label is -1. Default: False for
        text, True for Picasso HDF5.
    description : dict, default=None
        For Picasso: entries added to the clustering's metadata document
        (e.g. the estimator's parameters).
    hdf5_key : str, default="locs"
        Dataset of the source HDF5 file holding the localisations.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        If the labels do not have one value per row of the source, a new
        column would overwrite an input column, a Picasso source lacks the
        metadata Picasso needs, labels do not fit Picasso's int32 ``group``
        column, or ``path`` is the source itself.

    Warns
    -----
    UserWarning
        When the source has a label column that would be read back instead
        of the new labels.
    """
    path, source = Path(path), Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"Localisation file not found: {source}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot write {path}: folder {path.parent} does not exist.")
    if path.resolve() == source.resolve():
        raise ValueError(f"{path} is the source file itself; write the labels to a new file.")
    # The same detection as read_localizations: a Picasso file renamed
    # without its suffix is still HDF5.
    is_hdf5 = source.suffix.lower() in (".hdf5", ".h5", ".hdf") or _is_hdf5(source)
    if is_hdf5:
        return _write_picasso_like(
            path, source, labels, label_name, extra_columns,
            True if drop_background is None else bool(drop_background), description, hdf5_key,
        )
    table = _read_text(source, None)
    encoding, delimiter = _sniff_text(source)
    columns = _label_columns(labels, len(table), label_name, "cluster")
    extra = _extra_values(extra_columns, len(table))
    _check_new_columns(table.columns, [n for n, _ in columns] + list(extra), source)
    _warn_if_labels_shadowed(table.columns, columns[0][0], source, path)
    keep = columns[0][1] != -1 if drop_background else None
    n_rows = len(table)
    del table  # only the source's text is needed from here on
    _append_text_fields(source, path, encoding, delimiter, [*columns, *extra.items()], keep, n_rows)
    return path


def _extra_values(extra_columns, n_rows):
    """The extra columns as {name: 1-D array of n_rows values}."""
    extra = {}
    for name, values in dict(extra_columns or {}).items():
        values = np.asarray(values)
        if values.ndim != 1 or values.shape[0] != n_rows:
            raise ValueError(
                f"extra column {name!r} must have one value per row of the source ({n_rows}); "
                f"got shape {values.shape}."
            )
        extra[name] = values
    return extra


class ShadowedLabelsWarning(UserWarning):
    """The source of :func:`write_labels_as_source` has a label column the reader picks first.

    ``sklearn-miro stats`` reads the column ``sklearn-miro cluster`` wrote and
    filters this warning; Python callers read the new labels with
    ``read_localizations(path, columns={"label": <label_name>})``.
    """


def _warn_if_labels_shadowed(existing, new_name, source, path):
    """Warn when the source has a label column that the reader would pick first.

    read_localizations reads the first label-like column as ``label``; the new
    labels are appended after every input column, so an input ``index`` (the
    benchmark's ground truth) or ``cluster_id`` would be read back instead.
    """
    shadowing = [c for c in existing if parse_header(c)[0] == "label"]
    if shadowing:
        warnings.warn(
            f"{source} already has the column {str(shadowing[0])!r}, which read_localizations "
            f"reads as the cluster labels: read_localizations({str(path)!r}) returns those in "
            f"'label', not the new labels written to {str(new_name)!r}. Read the new labels "
            f"with read_localizations(path, columns={{'label': {str(new_name)!r}}}).",
            ShadowedLabelsWarning,
            stacklevel=caller_stacklevel(),
        )


# Byte-order marks -> a codec that decodes them as U+FEFF and writes them back,
# so that the copy has exactly the source's bytes.
_EXACT_CODECS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


# A field of a whitespace-delimited record as pandas' C parser splits it:
# spaces and tabs separate fields (not other whitespace), a quoted part may
# hold them, and a quote inside a field is an ordinary character.
_WS_FIELD = re.compile(r'(?:"[^"]*"|[^ \t"]|")+')
# What makes str.split() count the fields of such a record otherwise: a quote,
# or whitespace other than spaces and tabs (line breaks only occur inside
# quoted fields).
_NOT_SPLIT_LIKE_PANDAS = re.compile(
    '["\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]'
)


def _text_field(values, delimiter, quote_text):
    """Values of a new column as text fields (object array of str).

    Numbers are written as Python prints them, dates and durations as pandas
    prints them (``2020-01-01 12:00:00``), missing values as empty fields (as
    pandas writes them) or, in whitespace-delimited files, where an empty
    field would vanish and shift the next ones, as ``""`` (read back as
    missing). Text is quoted when it holds the delimiter, a quote, a line
    break or (whitespace-delimited files) whitespace or nothing, and always
    when ``quote_text`` (the source quotes its header, as ThunderSTORM does:
    text fields are quoted, numbers are not).
    """
    values = np.asarray(values)
    whitespace = delimiter == r"\s+"
    empty = '""' if whitespace else ""
    # map() over built-ins: the per-row work runs in C, as for numpy
    # (np.strings needs numpy 2, pandas' .str is a Python loop).
    if values.dtype.kind in "iub":
        return np.array(list(map(str, values.tolist())), dtype=object)
    if values.dtype.kind == "f":
        # numpy's shortest repr of the value's own precision (float32 0.1 is
        # "0.1", not the "0.10000000149011612" of the Python float).
        text = values.astype(str).astype(object)
        text[np.isnan(values)] = empty
        return text
    if values.dtype.kind in "Mm":
        # Text as pandas writes it (numpy's integer nanoseconds would read
        # back as numbers); NaT is missing.
        series = pd.Series(values)
        missing = series.isna().to_numpy()
        values = np.array(series.astype(str).tolist(), dtype=object)
        values[missing] = None
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8")
    missing = pd.isna(values) if values.dtype.kind == "O" else np.zeros(values.shape, dtype=bool)
    text = list(map(str, values.tolist()))
    if whitespace:
        special = re.compile(r'\s|"|^$')
    else:
        special = re.compile(re.escape(delimiter) + r'|"|[\r\n]|^\s|\s$')
    needs_quotes = np.fromiter(map(bool, map(special.search, text)), dtype=bool, count=len(text))
    needs_quotes |= bool(quote_text)
    text = np.array(text, dtype=object)
    escaped = map(str.replace, text[needs_quotes], repeat('"'), repeat('""'))
    text[needs_quotes] = ['"' + t + '"' for t in escaped] if needs_quotes.any() else []
    text[missing] = empty
    return text


class _CsvLimits:
    """Let the csv module read fields as long as the text; its errors become ValueError.

    csv refuses fields longer than ``csv.field_size_limit()`` (131,072
    characters by default), which pandas reads; the limit is restored on exit.
    """

    def __init__(self, source, size):
        self.source, self.size = source, size

    def __enter__(self):
        self.limit = csv.field_size_limit()
        csv.field_size_limit(max(self.limit, min(self.size + 1, 2**31 - 1)))
        return self

    def __exit__(self, kind, exc, tb):
        csv.field_size_limit(self.limit)
        if isinstance(exc, csv.Error):
            raise ValueError(
                f"Could not split {self.source} into records with the csv module: {exc}; "
                "write the labels with write_labels instead."
            ) from exc
        return False


def _records(text, delimiter):
    """Split a text table into records.

    Records are lines, except that a quoted field holding a line break makes
    one record of several lines (as pandas and the csv module read it).
    Raises csv.Error (see :class:`_CsvLimits`) for text the csv module cannot
    split.

    Returns
    -------
    bodies, endings : object ndarrays
        Every record without and with only its line break (``""`` for a
        last line without one); ``bodies + endings`` joined is ``text``.
    header : int
        Index of the header record, the first that is not blank.
    data : bool ndarray
        The data rows: records after the header that are not blank (pandas
        skips blank lines).
    """
    n_lf, n_cr, n_crlf = text.count("\n"), text.count("\r"), text.count("\r\n")
    newline = "\n" if n_cr == 0 else "\r\n" if n_lf == n_cr == n_crlf else "\r" if n_lf == 0 else None
    if newline is not None:  # one kind of line break: str.split is ten times faster
        bodies = text.split(newline)
        endings = [newline] * (len(bodies) - 1) + [""]
    else:
        parts = re.split(r"(\r\n|\r|\n)", text)
        bodies, endings = parts[0::2], parts[1::2] + [""]
        del parts
    if len(bodies) > 1 and bodies[-1] == "":
        bodies, endings = bodies[:-1], endings[:-1]  # the text ends with a line break
    filled = _filled(bodies)
    header = int(np.argmax(filled)) if filled.any() else len(bodies)
    data_start = sum(map(len, bodies[: header + 1])) + sum(map(len, endings[: header + 1]))
    if text.find('"', data_start) != -1:
        # Quotes in the data: let the csv module say which lines form one
        # record (a quote opens a quoted field only at the start of a field).
        # The lines are made one at a time, not held in a list.
        reader = csv.reader(
            map(operator.add, bodies, endings), delimiter=" " if delimiter == r"\s+" else delimiter,
            quotechar='"', skipinitialspace=True,
        )
        ends = np.array([reader.line_num for _ in reader], dtype=np.int64)
        if not np.array_equal(ends, np.arange(1, len(bodies) + 1)):  # multi-line records
            starts = np.r_[0, ends[:-1]]
            lengths = np.fromiter(map(len, bodies), dtype=np.int64, count=len(bodies))
            lengths += np.fromiter(map(len, endings), dtype=np.int64, count=len(endings))
            offsets = np.r_[0, np.cumsum(lengths)]
            endings = [endings[b - 1] for b in ends]
            stops = offsets[ends] - np.array(list(map(len, endings)), dtype=np.int64)
            bodies = [text[a:b] for a, b in zip(offsets[starts].tolist(), stops.tolist())]
            filled = _filled(bodies)
            header = int(np.argmax(filled)) if filled.any() else len(bodies)
    data = filled.copy()
    data[: header + 1] = False
    return np.array(bodies, dtype=object), np.array(endings, dtype=object), header, data


def _filled(bodies):
    """Mask of the lines that are not blank (a byte-order mark is no content)."""
    filled = np.fromiter(map(bool, map(str.strip, bodies)), dtype=bool, count=len(bodies))
    if len(bodies) and filled[0]:
        filled[0] = bool(bodies[0].lstrip("\ufeff").strip())
    return filled


def _field_counts(bodies, delimiter):
    """Number of fields in each record, as pandas splits it (array of int)."""
    n = len(bodies)
    if delimiter == r"\s+":
        # str.split (fast) where it splits as pandas does, else the pattern
        counts = np.fromiter(map(len, map(str.split, bodies)), dtype=np.int64, count=n)
        odd = np.fromiter(map(bool, map(_NOT_SPLIT_LIKE_PANDAS.search, bodies)), dtype=bool, count=n)
        if odd.any():
            counts[odd] = list(map(len, map(_WS_FIELD.findall, bodies[odd])))
        return counts
    counts = np.fromiter(map(str.count, bodies, repeat(delimiter)), dtype=np.int64, count=n) + 1
    quoted = np.flatnonzero(np.fromiter(map(operator.contains, bodies, repeat('"')), dtype=bool, count=n))
    if quoted.size:  # a delimiter may be inside quotes
        reader = csv.reader(bodies[quoted], delimiter=delimiter, quotechar='"', skipinitialspace=True)
        counts[quoted] = np.fromiter(map(len, reader), dtype=np.int64, count=quoted.size)
    return counts


def _match_header_width(bodies, data, n_names, delimiter):
    """Give every data record the header's number of fields, in place.

    pandas reads a row with fewer fields than the header with missing values
    at the end, and drops the fields of a row beyond the header's (the reader
    accepts them only when they are empty: trailing delimiters). The new
    fields must follow the header's last column, so short records get empty
    fields (``""`` when whitespace separates fields) and long ones lose their
    empty trailing fields.
    """
    rows = np.flatnonzero(data)
    counts = _field_counts(bodies[rows], delimiter)
    whitespace = delimiter == r"\s+"
    short = counts < n_names
    if short.any():
        pads = np.array([(' ""' if whitespace else delimiter) * k for k in range(n_names + 1)], dtype=object)
        index = rows[short]
        bodies[index] = list(map(operator.add, bodies[index], pads[n_names - counts[short]]))
    long = counts > n_names
    if long.any():
        index = rows[long]
        if whitespace:
            cut = [
                body[: [m.end() for m in _WS_FIELD.finditer(body)][n_names - 1]]
                for body in bodies[index]
            ]
        else:
            # The fields cut hold no delimiter: the reader refuses a row
            # whose fields beyond the header's are not empty.
            cut = [
                body.rsplit(delimiter, k)[0]
                for body, k in zip(bodies[index], (counts[long] - n_names).tolist())
            ]
        bodies[index] = cut


# Rows written per piece: bounds the memory of the text being built.
_WRITE_CHUNK = 65536


def _append_text_fields(source, path, encoding, delimiter, new_columns, keep, n_rows):
    """Copy ``source`` to ``path`` line by line with new fields appended.

    Appending to the raw lines, rather than writing the table pandas read,
    keeps every value as the user's file has it (``007`` stays ``007``, an
    integer column with a blank does not become ``1.0``, ``1e3`` stays
    ``1e3``), as well as quoting, encoding and line endings. Only a row with
    another number of fields than the header changes: empty fields are added
    or trailing empty ones removed, so that the new fields follow the
    header's last column.
    """
    raw = source.read_bytes()
    codec = next((c for bom, c in _EXACT_CODECS if raw.startswith(bom)), None)
    if codec is None:
        codec = "utf-8" if encoding == "utf-8-sig" else encoding
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise ValueError(f"Could not decode {source} as {codec} text: {exc}. Save it as UTF-8.") from exc
    del raw
    sep = " " if delimiter == r"\s+" else delimiter
    with _CsvLimits(source, len(text)):
        bodies, endings, header, data = _records(text, delimiter)
        del text
        if int(data.sum()) != n_rows:
            raise ValueError(
                f"Could not match the lines of {source} to its {n_rows} localisations (found "
                f"{int(data.sum())} data lines); write the labels with write_labels instead."
            )
        n_names = int(_field_counts(bodies[header : header + 1], delimiter)[0])
        _match_header_width(bodies, data, n_names, delimiter)
    quote_text = '"' in bodies[header]
    names = _text_field(np.array([str(name) for name, _ in new_columns]), delimiter, quote_text)
    suffixes = np.full(len(bodies), "", dtype=object)
    suffixes[header] = "".join(sep + name for name in names)
    kept = None
    if keep is not None:
        kept = np.ones(len(bodies), dtype=bool)
        kept[np.flatnonzero(data)[~keep]] = False
    # The output is built and encoded a piece at a time, each piece's source
    # lines released once encoded: never several copies of the whole text.
    pieces, row = [], 0
    for start in range(0, len(bodies), _WRITE_CHUNK):
        stop = min(start + _WRITE_CHUNK, len(bodies))
        block = slice(start, stop)
        n_data = int(data[block].sum())
        if n_data:
            fields = [
                _text_field(values[row : row + n_data], delimiter, quote_text) for _, values in new_columns
            ]
            suffixes[block][data[block]] = list(map(sep.join, zip(repeat(""), *fields)))
            del fields
            row += n_data
        parts = zip(bodies[block].tolist(), suffixes[block].tolist(), endings[block].tolist())
        if kept is not None:
            parts = (p for p, k in zip(parts, kept[block].tolist()) if k)
        try:
            pieces.append("".join(chain.from_iterable(parts)).encode(codec))
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"The new columns hold characters that {source}'s encoding ({codec}) cannot "
                f"represent: {exc}. Convert the source to UTF-8 first."
            ) from exc
        bodies[block] = None
        suffixes[block] = None
    del bodies, suffixes
    with open(path, "wb") as handle:
        handle.writelines(pieces)


def _write_picasso_like(path, source, labels, label_name, extra_columns, drop_background, description, key):
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            "Writing Picasso HDF5 needs h5py: `pip install sklearn-miro[hdf5]`."
        ) from exc
    from numpy.lib import recfunctions

    try:
        with h5py.File(source, "r") as handle:
            if key not in handle:
                raise ValueError(f"{source} has no dataset {key!r}; datasets: {list(handle.keys())}.")
            records = handle[key][...]
    except OSError as exc:
        raise ValueError(f"Could not read {source} as an HDF5 file: {exc}") from exc
    if records.dtype.names is None:
        raise ValueError(f"{source}: dataset {key!r} is not a table with named columns.")
    info = read_picasso_info(source)
    if path.with_suffix(".yaml").resolve() == source.with_suffix(".yaml").resolve():
        raise ValueError(
            f"Writing {path} would overwrite {source.with_suffix('.yaml')}, the metadata of the "
            "source file (Picasso keeps it beside the HDF5 file under the same stem). Choose an "
            "output name with another stem, e.g. "
            f"{source.with_name(source.stem + '_miro.hdf5').name}."
        )
    if info is None:
        raise ValueError(
            f"{source} has no Picasso metadata (no {source.with_suffix('.yaml').name} beside it "
            "and none embedded); Picasso cannot open the output without the movie's Width, "
            "Height and Frames. Put the YAML file next to the HDF5 file."
        )
    missing = [k for k in ("Width", "Height", "Frames") if all(k not in d for d in info)]
    if missing:
        raise ValueError(
            f"The Picasso metadata of {source} lacks {missing}, which Picasso needs to open "
            "the output."
        )
    columns = _label_columns(labels, records.shape[0], label_name, "group")
    if len(columns) > 1 and label_name is None:
        columns[0] = ("group", columns[0][1])
        columns[1:] = [(f"group_{k}", c) for k, (_, c) in enumerate(columns[1:], start=1)]
    extra = _extra_values(extra_columns, records.shape[0])
    _check_new_columns(records.dtype.names, [n for n, _ in columns] + list(extra), source)
    _warn_if_labels_shadowed(records.dtype.names, columns[0][0], source, path)
    # Picasso's group column is int32: a larger label would wrap around
    # silently (2**31 becoming -2**31) and merge or split clusters.
    limits = np.iinfo(np.int32)
    for name, values in columns:
        outside = (values < limits.min) | (values > limits.max)
        if outside.any():
            raise ValueError(
                f"The labels for the column {name!r} hold {int(values[outside][0])}, which does not "
                f"fit Picasso's int32 group column ({limits.min}..{limits.max}); renumber the "
                "clusters first, e.g. with np.unique(labels, return_inverse=True)."
            )
    names = [n for n, _ in columns] + list(extra)
    data = [c.astype(np.int32) for _, c in columns]
    for name, values in extra.items():
        if values.dtype.kind in "OU":
            # HDF5 stores fixed-length byte strings; UTF-8 keeps any text
            # (an ASCII-only cast would fail on "µ").
            values = np.char.encode(values.astype(str), "utf-8")
        data.append(values)
    out = recfunctions.append_fields(records, names, data, usemask=False, asrecarray=False)
    if drop_background:
        out = out[columns[0][1] != -1]
    first = columns[0][1]
    document = {
        "Generated by": "sklearn_miro (MIRO clustering)",
        "Source": str(source),
        "Group column": columns[0][0],
        "Number of clusters": int(np.unique(first[first != -1]).size),
        "Background": "dropped" if drop_background else "kept, group -1",
    }
    if description:
        document.update({str(k): _plain(v) for k, v in dict(description).items()})
    yaml = _yaml()
    with h5py.File(path, "w") as handle:
        handle.create_dataset("locs", data=out)
    with open(path.with_suffix(".yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump_all([*info, document], handle, default_flow_style=False)
    return path


def _plain(value):
    """A YAML-safe version of a metadata value (numbers, strings, lists, dicts)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
