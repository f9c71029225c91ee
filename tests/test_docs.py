"""The docs check (tools/check_docs.py) passes on the repository, and it catches drift."""
import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_checker():
    spec = importlib.util.spec_from_file_location("check_docs", ROOT / "tools" / "check_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_documented_command_parses_and_the_cheap_ones_run():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "check_docs.py")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ", 0 problem(s)" in out.stdout


def test_the_check_catches_drift():
    check = load_checker().check
    assert "no option --methd" in check("skelbench run --methd skeletonclr")
    assert "no such command" in check("skelbench comapre")
    assert "'yaml' is not one of" in check("skelbench compare --format yaml")
    assert "exit 1" in check("skelbench run --method nosuch")          # run with --dry-run
    assert check("skelbench run [--method M[,M..]] [--seeds 0,1]") is None   # a synopsis
    assert "no option --sed" in check("skelbench run [--sed 0]")
    text = "```bash\nskelbench list methods   # every recipe\n```\nor `skelbench compare\n--all`."
    assert load_checker().commands(text) == ["skelbench list methods", "skelbench compare --all"]
