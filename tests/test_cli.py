"""The ``microgd`` command: the demo, classify/critical/graph/train, and the error contract."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import microgd as mg
from microgd.cli import (
    CommandError,
    build_parser,
    main,
    parse_bounds,
    parse_point,
    read_csv,
)
from microgd.expr import parse

ROOT = Path(__file__).resolve().parent.parent


def test_main_demo_narrates_the_course_and_writes_pictures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    for heading in ("Exhaustive search", "Divide and conquer", "Gradient descent", "SGD",
                    "Mini-batch", "learning rate too large", "saddle", "Momentum"):
        assert heading in text
    assert "prediction at x = 4: 7.9998" in text
    assert "DivergenceError caught" in text and "smaller learning rate" in text
    assert "Hessian eigenvalues [-2.0, 2.0]: one negative -> saddle" in text
    assert captured.err == ""
    pictures = sorted(p.name for p in tmp_path.iterdir())
    assert pictures == ["loss_curves.png", "momentum_landscape.png", "saddle_landscape.png",
                        "saddle_spectrum.png"]
    assert all((tmp_path / p).stat().st_size > 1000 for p in pictures)


def test_main_demo_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json", "--no-plots"]) == 0
    numbers = json.loads(capsys.readouterr().out)
    gd = numbers["gd"]
    assert gd["w"] == pytest.approx(2 - (1 - 0.01 * 28 / 3) ** 100, rel=1e-12)
    assert numbers["saddle"]["kind"] == "saddle"
    assert numbers["momentum"]["momentum_w"] < 0 < numbers["momentum"]["gd_w"]


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["demo", "--seed", "x"]])
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("microgd: error: ")
    assert captured.out == ""


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_runs_the_demo() -> None:
    env = dict(os.environ)
    # Run the source tree's package even when microgd is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "microgd", "demo", "--no-plots"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "8. Momentum" in proc.stdout


# ---- expressions on the command line: classify, critical, graph ---------------------------

HIMMELBLAU = "(x**2+y-11)**2+(x+y**2-7)**2"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("MPLBACKEND", "Agg")
    return env


def run_cli(*args: str, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m microgd ARGS`` in a fresh interpreter, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "microgd", *args],
        capture_output=True, text=True, env=_env(), cwd=cwd, timeout=timeout, check=False,
    )


def test_classify_a_saddle_text_and_json() -> None:
    proc = run_cli("classify", "x**2 - y**2", "--at", "x=0,y=0")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    out = proc.stdout
    assert "kind:             saddle" in out
    assert "eigenvalues:      -2, 2" in out
    assert "escape direction: x = 0, y = 1" in out
    assert "tolerances:" in out and "gradient norm:    0" in out

    proc = run_cli("classify", "x**2 - y**2", "--at", "0,0", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["kind"] == "saddle"
    assert data["variables"] == ["x", "y"]
    assert data["point"] == [0.0, 0.0]
    assert data["value"] == 0.0 and data["grad_norm"] == 0.0
    assert data["eigenvalues"] == [-2.0, 2.0]
    assert data["escape_direction"] == [0.0, 1.0]
    assert data["tol_eig"] > 0 and data["tol_grad"] > 0


def test_classify_a_minimum_with_a_negative_point() -> None:
    # --at -1,2 (a value starting with '-') and the named form in any order.
    proc = run_cli("classify", "(x + 1)**2 + 3*(y - 2)**2 + x*y", "--at", "-1,2", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["kind"] == "not critical"           # x*y moves the minimum
    proc = run_cli("classify", "(x + 1)**2 + 3*(y - 2)**2", "--at", "y=2,x=-1")
    assert proc.returncode == 0, proc.stderr
    assert "kind:             minimum" in proc.stdout
    assert "escape direction: none" in proc.stdout
    assert "local minimum" in proc.stdout


def test_critical_finds_all_nine_points_of_himmelblau() -> None:
    proc = run_cli("critical", HIMMELBLAU, "--bounds", "-5:5,-5:5", "--starts", "40", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    kinds = [p["kind"] for p in data["points"]]
    assert data["count"] == len(kinds) == 9
    assert (kinds.count("minimum"), kinds.count("saddle"), kinds.count("maximum")) == (4, 4, 1)
    values = [p["value"] for p in data["points"]]
    assert values == sorted(values)
    assert any(np.allclose(p["x"], [3.0, 2.0]) for p in data["points"])
    assert data["bounds"] == [[-5.0, 5.0], [-5.0, 5.0]]
    maximum = data["points"][-1]
    assert maximum["kind"] == "maximum"
    assert maximum["value"] == pytest.approx(181.617, abs=1e-3)

    proc = run_cli("critical", HIMMELBLAU, "--bounds=-5:5,-5:5", "--starts", "40")
    assert proc.returncode == 0, proc.stderr
    assert "9 found: 4 minima, 4 saddles, 1 maximum." in proc.stdout
    table = [line for line in proc.stdout.splitlines() if line[:3].strip().isdigit()]
    assert len(table) == 9
    assert table[0].split()[1] == "minimum" and table[-1].split()[1] == "maximum"


def test_graph_writes_dot_and_svg(tmp_path: Path) -> None:
    dot_file = tmp_path / "g.dot"
    proc = run_cli("graph", "tanh(w*x + b)", "-o", str(dot_file), "--at", "b=0.5,w=2,x=-1",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ops"] == ["add", "mul", "tanh"]
    assert data["gradient"][0] == pytest.approx(1 - np.tanh(-1.5) ** 2)
    source = dot_file.read_text()
    assert source.startswith("digraph")
    for name in ("add", "mul", "tanh", "grad"):
        assert name in source
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed: .svg cannot be rendered")
    svg_file = tmp_path / "g.svg"
    proc = run_cli("graph", "x**2 - y**2", "-o", str(svg_file))
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "ops: pow, sub" in proc.stdout
    text = svg_file.read_text()
    assert "<svg" in text and "pow" in text and "sub" in text


def _write_linear_csv(path: Path, rows: int = 120) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 2))
    y = 2 * X[:, 0] - X[:, 1] + 0.5
    lines = ["a,b,target"] + [f"{a:.6f},{b:.6f},{t:.6f}" for (a, b), t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_train_on_a_csv_loss_decreases(tmp_path: Path) -> None:
    csv_file = tmp_path / "data.csv"
    _write_linear_csv(csv_file)
    proc = run_cli("train", "--csv", str(csv_file), "--target", "target", "--epochs", "30",
                   "--hidden", "8", "--optimizer", "adam", "--lr", "0.02", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["features"] == ["a", "b"] and data["rows"] == 120
    assert len(data["epoch_loss"]) == 30
    assert data["final_loss"] < 0.5 * data["epoch_loss"][0]
    assert data["epoch_loss"][-1] < data["epoch_loss"][0]

    out_dir = tmp_path / "run"
    proc = run_cli("train", "--csv", str(csv_file), "--target", "target", "--epochs", "20",
                   "--hidden", "", "--optimizer", "gd", "--lr", "0.1", "--out", str(out_dir))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    log = [line for line in lines if line.startswith("epoch")]
    assert 10 <= len(log) <= 12                       # every ~10% of the epochs
    losses = [float(line.split()[-1]) for line in log]
    assert losses == sorted(losses, reverse=True)     # full-batch GD on a convex loss
    assert any(line.startswith("final loss") for line in lines)
    hist = mg.History.load(out_dir / "history.json")
    assert len(hist.epoch_loss) == 20
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out_dir / "loss.png").stat().st_size > 0


def test_train_divergence_is_one_line_exit_1(tmp_path: Path) -> None:
    csv_file = tmp_path / "data.csv"
    _write_linear_csv(csv_file)
    proc = run_cli("train", "--csv", str(csv_file), "--target", "target", "--optimizer", "gd",
                   "--lr", "100", "--epochs", "50")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("microgd: error: training diverged")
    assert "learning rate" in lines[0]


# ---- hostile and bad input: one line, exit 2, nothing run, nothing written ---------------

HOSTILE = {
    "import": "__import__('os').system('touch PWNED')",
    "subclasses": "().__class__.__bases__[0].__subclasses__()",
    "attribute": "x.__class__",
    "lambda": "lambda: 1",
    "power tower": "9**9**9**9",
    "deep parentheses": "(" * 1000 + "x" + ")" * 1000,
    "deep unary": "-" * 5000 + "x",
    "long": "x+" * 50_000 + "x",   # 100,001 characters: as long as one argument may be
}


@pytest.fixture(scope="module")
def startup_seconds() -> float:
    """How long `python -m microgd --version` takes here: the floor of any run."""
    start = time.perf_counter()
    run_cli("--version")
    return time.perf_counter() - start


def _assert_refused(proc: subprocess.CompletedProcess, seconds: float, limit: float) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("microgd: error: ")
    assert "Traceback" not in proc.stderr
    assert seconds < limit, f"took {seconds:.2f}s"


@pytest.mark.parametrize(
    ("command", "name"),
    [("classify", name) for name in HOSTILE] + [("graph", "import"), ("graph", "subclasses")],
)
def test_hostile_expressions_are_refused(
    command: str, name: str, tmp_path: Path, startup_seconds: float
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    extra = ["--at", "0"] if command == "classify" else ["-o", "out.svg"]
    start = time.perf_counter()
    proc = run_cli(command, HOSTILE[name], *extra, cwd=cwd, timeout=30)
    # 2 s, or a little more on a machine where merely starting Python is slow.
    _assert_refused(proc, time.perf_counter() - start, max(2.0, startup_seconds + 1.0))
    assert list(cwd.iterdir()) == []


def test_a_million_characters_from_a_file_are_refused(
    tmp_path: Path, startup_seconds: float
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    big = tmp_path / "big.txt"
    big.write_text("x+" * 500_000 + "x")
    start = time.perf_counter()
    proc = run_cli("critical", f"@{big}", "--bounds", "-1:1", cwd=cwd, timeout=30)
    _assert_refused(proc, time.perf_counter() - start, max(2.0, startup_seconds + 1.0))
    assert "too long" in proc.stderr
    assert list(cwd.iterdir()) == []


def test_expression_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "saddle.txt").write_text("(x**2\n - y**2)\n")
    proc = run_cli("classify", "@saddle.txt", "--at", "0,0", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["kind"] == "saddle"


BAD_INPUT = [
    (["classify", "x**2", "--at", "y=0"], "unknown variable 'y'"),
    (["classify", "x**2 + y", "--at", "1"], "1 value(s) for 2 variable(s)"),
    (["classify", "x**2", "--at", "abc"], "'abc' is not a number"),
    (["classify", "x**2", "--at", "inf"], "not a finite number"),
    (["classify", "x**2", "--at", "x=1,x=2"], "given twice"),
    (["classify", "log(x)", "--at", "0"], "is -inf at x = 0"),
    (["classify", "2 + 3", "--at", "0"], "no variables"),
    (["classify", "sqrt(x)", "--at", "0"], "not twice differentiable at x = 0"),
    (["classify", "x // 2", "--at", "0"], "the operator '//' is not allowed (at column 3)"),
    (["classify", "@no-such-file.txt", "--at", "0"], "does not exist"),
    (["classify", "@", "--at", "0"], "'@' must be followed by a file name"),
    (["classify", "--at", "0"], "EXPR is missing"),
    (["critical", "x*y", "--bounds", "5:-5,0:1"], "low 5 > high -5"),
    (["critical", "x*y", "--bounds", "0:1:2,0:1"], "is not a number"),
    (["critical", "x*y", "--bounds", "0..1,0:1"], "not a range low:high"),
    (["critical", "x*y", "--bounds", "-1:1", "--starts", "0"], "--starts must be at least 1"),
    (["graph", "x*y", "-o", "graph.txt"], "unknown format '.txt'"),
    (["graph", "x*y", "-o", "no-such-dir/g.svg"], "does not exist"),
    (["train", "--csv", "no-such.csv", "--target", "y"], "does not exist"),
    (["train", "--csv", "data.csv", "--target", "nope"], "no such column (columns: a, b, y)"),
    (["train", "--csv", "bad.csv", "--target", "y"], "line 3, column 'b': 'oops' is not a number"),
    (["train", "--csv", "data.csv", "--target", "y", "--loss", "bce"], "needs a 0/1 target"),
    (["train", "--csv", "data.csv", "--target", "y", "--hidden", "4,x"], "--hidden"),
    (["train", "--csv", "data.csv", "--target", "y", "--lr", "-1"], "--lr must be a positive"),
    (["train", "--csv", "data.csv", "--target", "y", "--batch-size", "3"],
     "--batch-size 3 is more than the 2 rows of data.csv; use --batch-size 2 or less"),
    (["train", "--csv", "data.csv", "--target", "y", "--out", "data.csv"],
     "--out data.csv: exists and is not a directory"),
    (["train", "--csv", "data.csv", "--target", "y", "--out", "data.csv/run"],
     "--out data.csv/run: 'data.csv' is a file, not a directory"),
    (["train", "--csv", "data.csv", "--target", "y", "--hidden", "100000,100000"],
     "a model of 10,000,500,001 parameters is more than the limit of 100,000,000"),
    (["classify", "x**2", "--at", "0", "--tol", "-1"], "--tol must be a positive number, got -1"),
    (["classify", "x**2", "--at", "0", "--tol", "0"], "--tol must be a positive number, got 0"),
    (["classify", "x**2", "--at", "0", "--tol", "nan"], "--tol must be a positive number"),
    (["demo", "--out", "data.csv"], "--out data.csv: exists and is not a directory"),
    (["demo", "--out", "data.csv/pictures"], "'data.csv' is a file, not a directory"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("a,b,y\n1,2,3\n4,5,6.5\n")
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,3\n4,oops,6\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("microgd: error: ")
    assert message in lines[0]
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ---- argument details (in process: fast) ---------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["critical", "x**2 - y", "--bounds", "-2:2,-1:1", "--starts", "3", "--json"],
        ["critical", "x**2 - y", "--bounds=-2:2,-1:1", "--starts", "3", "--json"],
        ["critical", "x**2 - y", "--bounds", "x=-2:2,y=-1:1", "--starts", "3", "--json"],
        ["critical", "--bounds", "-2:2,-1:1", "--starts", "3", "--json", "x**2 - y"],
    ],
)
def test_bounds_spellings(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["bounds"] == [[-2.0, 2.0], [-1.0, 1.0]]


def test_an_expression_may_start_with_a_minus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "-x**2 - y**2", "--at", "-0,0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "maximum"
    assert main(["classify", "--expr=-x**2", "--at", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "maximum"
    assert main(["classify", "--x**2", "--at", "1", "--json"]) == 0    # --x is -(-x)
    assert json.loads(capsys.readouterr().out)["value"] == 1.0


def test_parse_point_and_bounds() -> None:
    e = parse("b * a + c")
    assert parse_point("1,2,3", e).tolist() == [1.0, 2.0, 3.0]        # a, b, c
    assert parse_point(" c = 3 , a=1, b=2 ", e).tolist() == [1.0, 2.0, 3.0]
    assert parse_bounds("-1:1", e) == [(-1.0, 1.0)] * 3               # one range for all
    assert parse_bounds("c=0:1,a=-2:2,b=1:1", e) == [(-2.0, 2.0), (1.0, 1.0), (0.0, 1.0)]
    with pytest.raises(CommandError, match="give every item as name=value or none"):
        parse_point("a=1,2,3", e)
    with pytest.raises(CommandError, match="no value for c"):
        parse_point("a=1,b=2", e)


def test_read_csv_skips_blank_lines_and_checks_the_shape(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("x, y\n1,2\n\n3,4\n")
    assert read_csv(good)[0] == ["x", "y"]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("x,y\n1,2\n3\n")
    with pytest.raises(CommandError, match="1 field"):
        read_csv(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CommandError, match="empty"):
        read_csv(empty)


# ---- the command line's rough edges --------------------------------------------------------


def test_train_on_a_csv_shorter_than_a_batch(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "five.csv"
    _write_linear_csv(csv_file, rows=5)
    assert main(["train", "--csv", str(csv_file), "--target", "target", "--epochs", "3",
                 "--json"]) == 0, capsys.readouterr().err
    data = json.loads(capsys.readouterr().out)
    assert data["rows"] == 5 and data["batch_size"] == 5 and len(data["epoch_loss"]) == 3


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "bom.csv"
    csv_file.write_bytes("a,b,y\n1,2,3\n4,5,6.5\n".encode("utf-8-sig"))
    assert csv_file.read_bytes()[:3] == b"\xef\xbb\xbf"
    header, data = read_csv(csv_file)
    assert header == ["a", "b", "y"] and data.tolist() == [[1, 2, 3], [4, 5, 6.5]]
    assert main(["train", "--csv", str(csv_file), "--target", "a", "--epochs", "2",
                 "--hidden", "", "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["features"] == ["b", "y"]


def test_out_that_cannot_be_written_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "data.csv"
    _write_linear_csv(csv_file, rows=8)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access

    def access(path: object, mode: int, **kw: object) -> bool:
        # A directory we may not write into (root may write anywhere, so chmod cannot show it).
        if Path(os.fsdecode(path)) == locked:  # type: ignore[arg-type]
            return False
        return real_access(path, mode, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    for out, message in ((locked, "the directory is not writable"),
                         (locked / "run" / "1", f"{str(locked)!r}, where it would be made, is "
                                                "not writable")):
        assert main(["train", "--csv", str(csv_file), "--target", "target",
                     "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""  # nothing trained, not even the first log line
        assert captured.err == f"microgd: error: --out {out}: {message}\n"
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0,
                    reason="needs POSIX permissions, which root ignores")
def test_out_in_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    csv_file = tmp_path / "data.csv"
    _write_linear_csv(csv_file, rows=8)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        proc = run_cli("train", "--csv", str(csv_file), "--target", "target",
                       "--out", str(locked / "run"))
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "not writable" in proc.stderr


def test_out_is_made_only_when_training_succeeds(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "data.csv"
    _write_linear_csv(csv_file)
    out = tmp_path / "runs" / "bad"
    assert main(["train", "--csv", str(csv_file), "--target", "target", "--optimizer", "gd",
                 "--lr", "100", "--epochs", "50", "--out", str(out)]) == 1
    assert not (tmp_path / "runs").exists()
    capsys.readouterr()
    good = tmp_path / "runs" / "good"
    assert main(["train", "--csv", str(csv_file), "--target", "target", "--epochs", "2",
                 "--out", str(good)]) == 0
    assert (good / "history.json").is_file()


def test_a_loss_not_finite_at_the_start_is_blamed_on_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "huge.csv"
    csv_file.write_text("a,y\n1e200,3\n4,5\n")
    assert main(["train", "--csv", str(csv_file), "--target", "y", "--hidden", ""]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("microgd: error: training cannot start: "
                                                   "the loss is inf at the start")
    assert f"the data in {csv_file} gives a loss or gradient that is not finite" in err
    assert "--lr" not in err and "learning rate" not in err


def test_demo_refuses_a_bad_out_before_running(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    proc = run_cli("demo", "--out", "file", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""  # not one line of the walk-through
    assert proc.stderr == "microgd: error: --out file: exists and is not a directory\n"


def test_quick_start_installs_the_plot_extra_and_git_ignores_the_demo_folder() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    first = quick.split("```bash", 1)[1].split("```", 1)[0].strip()
    assert first == 'pip install -e ".[plot]" && microgd demo'
    default = build_parser().parse_args(["demo"]).out
    assert default == "microgd-demo" and f"`{default}/`" in quick
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f"{default}/" in ignored
    if shutil.which("git") and (ROOT / ".git").exists():
        probe = f"{default}/loss_curves.png"
        done = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT, check=False)
        assert done.returncode == 0, f"git does not ignore {probe}"


def test_json_output_writes_infinities_as_strings(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.dot"
    assert main(["graph", "1/x", "--at", "0", "-o", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)  # strict JSON
    assert data["value"] == "Infinity" and data["gradient"] == ["-Infinity"]
