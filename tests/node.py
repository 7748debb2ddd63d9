"""Runs a Node.js ES module beside the packages `deploy/local/stack.sh up --profile test` installs
into .local/node (the AsyncAPI parser, `canonicalize`, `@hpke/core`): what other languages' tools
make of meldespiegel's documents, boxes and chains."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / ".local" / "node"


def run_node(source: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`source` as a module in .local/node, whose imports resolve to the packages there."""
    assert (NODE_DIR / "node_modules").is_dir(), "stack.sh up --profile test installs them"
    script = NODE_DIR / f"check-{uuid.uuid4().hex[:8]}.mjs"
    script.write_text(source, "utf-8")
    try:
        return subprocess.run(
            ["node", str(script), *args], capture_output=True, text=True, timeout=60
        )
    finally:
        script.unlink()
