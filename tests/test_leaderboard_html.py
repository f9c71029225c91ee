"""The HTML leaderboard in a real browser: headless Chromium renders it, a click on a header
re-sorts the table, and a screenshot is taken (skipped when no Chromium is installed)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from skelbench.leaderboard import aggregate, load_records, pivot, tables
from skelbench.report import render_html

from .test_compare import write

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: "
                                    "apt-get install chromium); .ci/run installs it where it can")


def chromium(tmp_path: Path, *args: str) -> str:
    # The flags a sandboxed, offline machine needs (no background connections, a fresh profile).
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def page(tmp_path: Path) -> str:
    for run_id, method, top1 in (("a", "aimclr", 61.0), ("b", "skeletonclr", 48.0),
                                 ("c", "actclr", 70.5), ("d", "random-init", 30.0)):
        write(tmp_path, run_id, method=method, config_hash=run_id, metrics={"top1": top1})
    frame, _ = load_records(tmp_path)
    parts = [(t, *pivot(p)) for t, p in tables(aggregate(frame))]
    return render_html(parts, [], [], "skelbench compare --write", tmp_path)


def methods_in_order(dom: str) -> list[str]:
    body = dom.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr[^>]*><td[^>]*>([^<]+)</td>", body)


def test_page_is_self_contained_and_marks_rows(tmp_path):
    html = page(tmp_path)
    assert "http://" not in html and "https://" not in html and "<link" not in html
    assert 'class="bound"' in html and "skelbench compare --write" in html
    assert 'data-value="70.50"' in html


@needs_chromium
def test_a_click_on_a_header_sorts_the_table_in_chromium(tmp_path):
    html = page(tmp_path)
    plain = tmp_path / "board.html"
    plain.write_text(html)
    # As loaded: the floor first, then the methods by name (the pivot's order).
    assert methods_in_order(chromium(tmp_path, "--dump-dom", plain.as_uri())) == [
        "random-init", "actclr", "aimclr", "skeletonclr"]
    # One click on the top-1 column: best first; a second: worst first.
    click = ("<script>var th = [].filter.call(document.querySelectorAll('th'), function (h) {"
             " return h.textContent.indexOf('top1') >= 0; })[0]; th.click();%s</script></body>")
    once = tmp_path / "once.html"
    once.write_text(html.replace("</body>", click % ""))
    dom = chromium(tmp_path, "--dump-dom", once.as_uri())
    assert methods_in_order(dom) == ["actclr", "aimclr", "skeletonclr", "random-init"]
    assert 'aria-sort="descending"' in dom
    twice = tmp_path / "twice.html"
    twice.write_text(html.replace("</body>", click % " th.click();"))
    assert methods_in_order(chromium(tmp_path, "--dump-dom", twice.as_uri())) == [
        "random-init", "skeletonclr", "aimclr", "actclr"]


@needs_chromium
def test_the_committed_leaderboard_renders(tmp_path):
    board = REPO / "results" / "leaderboard.html"
    dom = chromium(tmp_path, "--dump-dom", board.as_uri())
    rows = [m for body in dom.split("<tbody>")[1:]           # every table: real data comes first
            for m in re.findall(r"<tr[^>]*><td[^>]*>([^<]+)</td>", body.split("</tbody>", 1)[0])]
    assert {"random-init", "raw-1nn", "skeletonclr"} <= set(rows)
    shot = tmp_path / "board.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", board.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
