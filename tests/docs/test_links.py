"""Every relative link in the repository's Markdown resolves inside the repository.

Someone who clones the repository, and nothing else, must be able to follow every link: a target
file outside the clone, or a heading anchor that no longer exists, is a broken promise.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Spelled in pieces so that this file does not name what it forbids.
OUTSIDE = ("../" + "shared", "SPEC" + ".md")

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def repository_files() -> list[Path]:
    """Tracked files plus new ones not ignored (what a clone, or the next commit, holds)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({ROOT / name for name in listed.split("\0") if name and (ROOT / name).is_file()})


def markdown_files() -> list[Path]:
    """Every Markdown file of the repository."""
    return [path for path in repository_files() if path.suffix.lower() == ".md"]


def prose(text: str) -> list[str]:
    """The lines of ``text`` outside fenced code blocks, with code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(CODE_SPAN.sub("``", line) if "](" in line else line)
    return lines


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file (repeated headings get -1, -2, ...)."""
    seen: dict[str, int] = {}
    found = set()
    for line in prose(path.read_text("utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    """The relative link targets of a Markdown file (not web, mail or other schemes)."""
    targets = []
    for line in prose(path.read_text("utf-8")):
        for target in LINK.findall(line):
            if not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", target):
                targets.append(target)
    return targets


def broken(path: Path, target: str) -> str | None:
    """Why ``target``, linked from ``path``, does not resolve inside the repository; or None."""
    file_part, _, anchor = target.partition("#")
    resolved = (path.parent / unquote(file_part)).resolve() if file_part else path
    if not resolved.is_relative_to(ROOT):
        return "points outside the repository"
    if not resolved.exists():
        return "no such file"
    if anchor and resolved.suffix.lower() == ".md" and unquote(anchor) not in anchors(resolved):
        return f"no heading #{anchor} in {resolved.relative_to(ROOT)}"
    return None


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(path: Path) -> None:
    problems = {t: why for t in relative_links(path) if (why := broken(path, t)) is not None}
    assert problems == {}


def test_no_file_refers_to_documents_outside_the_repository() -> None:
    offenders = {
        str(path.relative_to(ROOT)): word
        for path in repository_files()
        for word in OUTSIDE
        if word.encode() in path.read_bytes()
    }
    assert offenders == {}


def test_the_readme_links_the_protocol_reference() -> None:
    assert "docs/protocol.md" in relative_links(ROOT / "README.md")
