"""The small commands start without torch (it takes seconds and ~700 MB to import)."""
import subprocess
import sys

import pytest

PROBE = """
import sys
from skelbench.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["compare", "--help"],
                                  ["list", "methods"], ["compare"], ["compare", "--format", "csv"]])
def test_small_commands_do_not_import_torch(project, args):
    import json
    run_dir = project / "results" / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "record.json").write_text(json.dumps({
        "run_id": "r1", "kind": "linear", "status": "done", "method": "skeletonclr",
        "backbone": "stgcn-tiny", "split": "synth-xsub", "stream": "joint", "seed": 0,
        "config_hash": "h", "finished_at": "2026-01-01T00:00:00", "config": {},
        "metrics": {"top1": 50.0}}))
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         timeout=120)
    assert "torch imported: False" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    if args[0] in ("compare", "list") and "--help" not in args:
        assert "skeletonclr" in out.stdout


def test_compare_with_the_committed_suites_does_not_import_torch():
    """`compare` resolves each committed suite's grid (results/*/suite.yaml) through the cards
    and the dataset registry: none of that may import torch."""
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    suites = sorted(p.parent.name for p in (repo / "results").glob("*/suite.yaml"))
    assert "embedded" in suites
    out = subprocess.run([sys.executable, "-c", PROBE, "compare"], capture_output=True,
                         text=True, timeout=300, cwd=repo,
                         env={**__import__("os").environ, "SKELBENCH_ROOT": str(repo)})
    assert "torch imported: False" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert "skeletonclr" in out.stdout


def test_redirected_output_gets_a_plain_line_per_epoch_and_little_else(project, tmp_path):
    log = tmp_path / "run.log"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-m", "skelbench", "run", "--method", "skeletonclr",
                        "--dataset", "synth-xsub", "--set", "pretrain.epochs=3",
                        "--set", "pretrain.lr_steps=[]"],
                       stdout=f, stderr=subprocess.STDOUT, timeout=300, check=True)
    lines = log.read_text().splitlines()
    epochs = [line for line in lines if line.startswith("pretrain epoch")]
    assert [line.split(":")[0] for line in epochs] == [f"pretrain epoch {e}/3" for e in (1, 2, 3)]
    assert all("samples/s" in line and "s left" in line for line in epochs)
    assert len(lines) <= 30 and not any("━" in line for line in lines)


def test_threads_option_is_used_recorded_and_announced(project):
    import json
    out = subprocess.run([sys.executable, "-m", "skelbench", "run", "--method", "random-init",
                          "--dataset", "synth-xsub", "--threads", "1", "--device", "cpu"],
                         capture_output=True, text=True, timeout=300, check=True)
    assert "device: cpu (" in out.stderr and "1 threads)" in out.stderr
    recs = [json.loads(p.read_text()) for p in (project / "results").glob("runs/*/record.json")]
    assert recs and all(r["hardware"]["device"].endswith(", 1 threads)") for r in recs)
