"""Docs check: every `skelbench ...` command in README.md and docs/*.md still parses, and the
cheap ones run (`run` with --dry-run, `compare`, `list`), so the docs cannot drift from the CLI;
every page of docs/ is linked from the README. Exit status 1 with one line per problem.

    python tools/check_docs.py
"""
from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from skelbench.cli import main  # noqa: E402

FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
SPAN = re.compile(r"`(skelbench [^`]+)`")
# A usage synopsis, not a command: brackets, alternatives, placeholders in capitals.
SYNOPSIS = re.compile(r"[\[\]|<>]|\.\.|\b[A-Z][A-Z_]{1,}\b")
EXECUTED = {("run",), ("compare",), ("list",), ("show",)}   # cheap with --dry-run or as they are


def commands(text: str) -> list[str]:
    found = []
    for block in FENCE.findall(text):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line)             # a shell comment
            for match in re.finditer(r"(?:^|[\s/`])skelbench ([^`]*)", line):
                found.append("skelbench " + match.group(1).strip())
    # inline spans, which may wrap over lines (a wrapped list of names loses its space)
    found += [" ".join(m.split()).replace(", ", ",") for m in SPAN.findall(FENCE.sub("", text))]
    return found


def resolve(words: list[str]) -> tuple[tuple[str, ...], click.Command, list[str]]:
    """The subcommand path, its command and the remaining words."""
    cmd, path = main, []
    while isinstance(cmd, click.Group) and words and words[0] in cmd.commands:
        path.append(words[0])
        cmd = cmd.commands[words.pop(0)]
    return tuple(path), cmd, words


def check(command: str) -> str | None:
    words = shlex.split(command)[1:]
    path, cmd, rest = resolve(list(words))
    if isinstance(cmd, click.Group):
        if not rest:
            return None                     # the group named in prose: `skelbench plot`
        return f"{command}: no such command {' '.join(['skelbench', *path, *rest[:1]])}"
    known = {opt for p in cmd.params for opt in p.opts + p.secondary_opts}
    named = {re.sub(r"[\[\]]", "", w).split("=")[0] for w in rest
             if re.sub(r"[\[\]]", "", w).startswith("--")}
    unknown = sorted(n for n in named if n not in known)
    if unknown:
        return f"{command}: skelbench {' '.join(path)} has no option {', '.join(unknown)}"
    if SYNOPSIS.search(" ".join(rest)) or "--raw" in rest or "--plugin" in rest:
        return None                         # a synopsis, or a file on the user's machine
    try:
        cmd.make_context(" ".join(path), list(rest))
    except click.ClickException as e:
        return f"{command}: {e.format_message()}"
    if path[:1] in {p[:1] for p in EXECUTED} and "--write" not in rest:   # writes nothing
        args = [*path, *rest] + (["--dry-run"] if path == ("run",) and "--dry-run" not in rest else [])
        res = CliRunner().invoke(main, args)
        if res.exit_code != 0:
            return f"{command}: exit {res.exit_code}: {res.output.strip().splitlines()[-1:]}"
    return None


def main_check() -> int:
    readme = (ROOT / "README.md").read_text()
    pages = sorted((ROOT / "docs").glob("*.md"))
    problems = [f"docs/{p.name} is not linked from README.md" for p in pages
                if f"docs/{p.name}" not in readme]
    seen = set()
    for path in [ROOT / "README.md", *pages]:
        for command in commands(path.read_text()):
            if command in seen:
                continue
            seen.add(command)
            problem = check(command)
            if problem:
                problems.append(f"{path.relative_to(ROOT)}: {problem}")
    for p in problems:
        print(p)
    print(f"{len(seen)} commands checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main_check())
