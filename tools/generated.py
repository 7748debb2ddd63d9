"""Files generated from the code and committed (the event contract, the Kubernetes manifests):
writing them, and finding those that no longer match what the code generates."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
Render = Callable[[], dict[Path, str]]


def stale(files: dict[Path, str], owned: Path | None = None) -> list[str]:
    """Files that differ from what was rendered; in `owned`, also files nothing renders."""
    problems = [
        str(path.relative_to(ROOT))
        for path, text in files.items()
        if not path.exists() or path.read_text("utf-8") != text
    ]
    if owned is not None and owned.exists():
        problems += [str(p.relative_to(ROOT)) for p in owned.glob("*.json") if p not in files]
    return sorted(problems)


def write(files: dict[Path, str], owned: Path | None = None) -> None:
    if owned is not None:
        owned.mkdir(parents=True, exist_ok=True)
        for old in owned.glob("*.json"):
            old.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


def main(module: str, render: Render, owned: Path | None = None) -> int:
    """`python -m <module> write|check`."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "write":
        files = render()
        write(files, owned)
        print(f"[{module}] {len(files)} files written", file=sys.stderr)
        return 0
    if command == "check":
        problems = stale(render(), owned)
        for p in problems:
            print(f"[{module}] stale: {p} (python -m {module} write)", file=sys.stderr)
        return 1 if problems else 0
    print(f"usage: python -m {module} write|check", file=sys.stderr)
    return 2
