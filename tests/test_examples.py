"""Run every script in examples/ as a user would (``python examples/NAME.py``), in a subprocess.

Most of them train a network, so they are marked ``examples`` and ``slow``: the default run
(``addopts = "-m 'not slow'"``) leaves them out. Run them all (about 10 CPU-minutes, half of
them train_and_cluster.py and fgfr1_statistics.py, which have no shorter option) with

    python -m pytest -m examples

Where an example accepts a flag that makes it smaller or faster, its test uses it.
Three examples take a few CPU-seconds; they are marked ``examples`` only, so the default run
runs them too. Examples that read the paper's data (``../shared`` or
``$SKLEARN_MIRO_SHARED``) skip without it.

Each example runs in an empty working directory, so that the files it writes by default
land there. A test checks the exit status, that the files the example's docstring names
are written and not empty, lines of its printed output, and that no warning is raised at
a line of the example itself (what a user would see: a deprecated call, or a misuse
the package warns about) except those listed for it.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@dataclass
class Example:
    script: str
    args: tuple = ()
    shared: str = None  # folder under ../shared the example reads; None: needs nothing
    files: tuple = ()  # written in the working directory (or under the output dir given in args)
    stdout: tuple = ()  # regular expressions, each found in the printed output
    warnings: tuple = ()  # warning categories allowed at lines of the example
    timeout: int = 1200  # seconds
    label: str = ""  # tells apart two tests of the same command

    @property
    def id(self):
        return " ".join((self.script, *self.args, *([f"({self.label})"] if self.label else [])))


FAST = [
    # 4-6 CPU-seconds each, about 3 of them importing torch and matplotlib.
    Example("plot_datasets.py", ("--n-fovs", "2"), files=("datasets.png",),
            stdout=(r"rings +radius \(circle fit\), nm +2\d\d\.\d", r"Wrote .*datasets\.png")),
    Example("plot_clusters.py", ("--n-fovs", "2"),
            files=("clusters.png", "displacements.png", "metrics.png"),
            stdout=(r"collapsed \+ DBSCAN +ari_dagger 0\.\d+", r"Wrote clusters\.png")),
    Example("read_files.py", shared="data/nieves2023",
            files=("read_files.png", "benchmark_fov_labels.csv"),
            stdout=(r"FGFR1 FOV: \d+ localisations", r"loaded 50 FOVs", r"Wrote and re-read")),
]  # fmt: skip

SLOW = [
    Example("plot_datasets.py", (".", "--n-fovs", "2", "--validate"), shared="data/nieves2023",
            files=("datasets.png",),
            stdout=(r"Plain DBSCAN, mean over 47 FOVs", r"Scenario 8 .*\n +simulated( +\d\.\d{3}){5}")),
    # One epoch may end near "move nothing", and says so (the default number does not).
    Example("multiscale_npc.py", ("--epochs", "1"), files=("multiscale_npc.png",),
            stdout=(r"pores and \d+ corners found", r"rings MIRO +\d\.\d{3}"),
            warnings=("MoveNothingWarning",)),
    Example("multiscale_npc.py", ("--authors",), shared="reference/checkpoints",
            files=("multiscale_npc.png",), stdout=(r"the authors' NPC checkpoint",)),
    Example("shape_classification.py", ("--epochs", "1"), files=("shape_classification.png",),
            stdout=(r"macro F1 \d\.\d{3}", r"\(\d+ found, \d+ true\)"),
            warnings=("MoveNothingWarning",)),
    Example("shape_classification.py", ("--authors",), shared="reference/checkpoints",
            files=("shape_classification.png",), stdout=(r"the authors' multishape checkpoint",)),
    # --quick: a tiny network that learns nothing, and says so.
    Example("single_shot.py", ("--quick", "--n-test", "1"), shared="data/nieves2023",
            stdout=(r"one labelled cluster of \d+", r"plain DBSCAN +ARI-dagger \d\.\d{3}"),
            warnings=("MoveNothingWarning",)),
    Example("single_shot.py", ("--quick", "--n-test", "1"), label="simulated data, no ../shared",
            stdout=(r"one labelled cluster of \d+", r"plain DBSCAN +ARI-dagger \d\.\d{3}"),
            warnings=("MoveNothingWarning",)),
    Example("fgfr1_zero_shot.py", ("--n-fovs", "2", "--n-plot", "1"), shared="data/fgfr1",
            files=("fgfr1_zero_shot.png",),
            stdout=(r"FGFR1_MCF7_AF647_2 +\d+", r"Total clusters over 2 FOVs")),
    # No option makes these two shorter: about 3 CPU-minutes each (178 and 163 CPU-s measured).
    Example("train_and_cluster.py", ("--n-test", "2"), shared="data/nieves2023",
            files=("m.joblib",),
            stdout=(r"trained in \d+ s", r"mean over 2 test FOVs", r"DBSCAN \(eps=30, min_samples=6\) +ari_dagger=0\.\d{3}"),
            timeout=3600),
    Example("fgfr1_statistics.py", shared="data/fgfr1",
            files=tuple(f"fgfr1_statistics/{name}" for name in (
                "nena.png", "statistics.png", "comparison.csv", "clusters_miro.csv", "clusters_dbscan.csv",
                "fovs_miro.csv", "fovs_dbscan.csv")),
            stdout=(r"NeNA precision \d+\.\d", r"median NN distance \(nm\)", r"Tables and figures in"),
            timeout=3600),
]  # fmt: skip

# The examples that cannot run without ../shared, run without it: they say where they looked.
NEEDS_SHARED = [
    ("fgfr1_statistics.py",), ("fgfr1_zero_shot.py",), ("read_files.py",), ("train_and_cluster.py",),
    ("multiscale_npc.py", "--authors"), ("shape_classification.py", "--authors"),
]


def shared_root():
    return Path(os.environ.get("SKLEARN_MIRO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def run_example(script, args, cwd, env=None, timeout=1200):
    environment = {**os.environ, "MPLBACKEND": "Agg", **(env or {})}
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def check_example(example, tmp_path):
    env = {}
    if example.shared:
        if not (shared_root() / example.shared).is_dir():
            pytest.skip(f"{example.script} needs {shared_root() / example.shared} (../shared or $SKLEARN_MIRO_SHARED)")
        env["SKLEARN_MIRO_SHARED"] = str(shared_root())
    else:  # also what runs without ../shared
        env["SKLEARN_MIRO_SHARED"] = str(tmp_path / "no_shared")
    result = run_example(example.script, example.args, tmp_path, env, example.timeout)
    report = f"stdout:\n{result.stdout}\nstderr (end):\n{result.stderr[-3000:]}"
    assert result.returncode == 0, report
    for name in example.files:
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 0, f"{name} not written\n{report}"
    for pattern in example.stdout:
        assert re.search(pattern, result.stdout), f"{pattern!r} not printed\n{report}"
    raised = set(re.findall(rf"{re.escape(example.script)}:\d+: (\w+Warning):", result.stderr))
    assert raised <= set(example.warnings), f"unexpected warnings {raised - set(example.warnings)}\n{report}"


@pytest.mark.examples
@pytest.mark.parametrize("example", FAST, ids=lambda e: e.id)
def test_fast_example(example, tmp_path):
    check_example(example, tmp_path)


@pytest.mark.examples
@pytest.mark.slow
@pytest.mark.parametrize("example", SLOW, ids=lambda e: e.id)
def test_example(example, tmp_path):
    check_example(example, tmp_path)


@pytest.mark.examples
@pytest.mark.slow
@pytest.mark.parametrize("command", NEEDS_SHARED, ids=" ".join)
def test_example_without_shared_data(command, tmp_path):
    missing = tmp_path / "no_shared"
    result = run_example(command[0], command[1:], tmp_path, {"SKLEARN_MIRO_SHARED": str(missing)}, timeout=300)
    assert str(missing) in result.stdout + result.stderr, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert not list(tmp_path.glob("*.png")), "wrote a figure without its data"
