"""Where the repository is, for tests at any depth under tests/ (../shared sits beside it)."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
