"""House rules that hold for the whole repository (issue 12): no module over 400 lines.

The modules are the ``.py``, ``.js`` and ``.css`` files git tracks, read from the work tree as they
are now.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400


def tracked(*patterns: str) -> list[Path]:
    """The files git tracks that match ``patterns``, as paths under the repository's root."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *patterns],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_tracked_python_javascript_or_css_module_is_over_400_lines() -> None:
    modules = [path for path in tracked("*.py", "*.js", "*.css") if path.exists()]
    assert {path.suffix for path in modules} == {".py", ".js", ".css"}
    lengths = {
        path.relative_to(ROOT).as_posix(): len(path.read_bytes().splitlines()) for path in modules
    }
    over = {name: n for name, n in sorted(lengths.items()) if n > MAX_LINES}
    assert over == {}, f"modules over {MAX_LINES} lines: {over}"
