"""Trained results kept on disk, so that ``python -m core warm`` can train a talk's scenes before the talk
and the served app (or a restarted one) finds them at once.

A result is stored under a digest of its kind, its key (the Scenario and settings that made it,
by ``repr``) and the code version: the hash of every ``.py`` file below ``core/`` with the torch and numpy
versions, so a change to the engine never serves a stale result. Files are written atomically;
an unreadable file is recomputed, never an error; the oldest files beyond :data:`MAX_FILES` are
removed. Results are pickled: the folder must only be writable by the app's own user.

``$DSL_RESULT_STORE`` sets the folder (default ``.cache/results`` in the repository); ``off``
switches the store off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy
import torch

STORE_ENV_VAR = "DSL_RESULT_STORE"
ENGINE = Path(__file__).resolve().parent.parent  # core/
DEFAULT_DIRECTORY = ENGINE.parent / ".cache" / "results"
MAX_FILES = 256
T = TypeVar("T")


@lru_cache(maxsize=1)
def code_version() -> str:
    """Digest of the engine's source files (every ``.py`` below ``core/``, subpackages included, by their path
    relative to it) and of the torch and numpy versions."""
    digest = hashlib.sha256(f"{torch.__version__} {numpy.__version__}".encode())
    for path in sorted(ENGINE.rglob("*.py")):
        digest.update(path.relative_to(ENGINE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class ResultStore:
    """A folder of pickled results; ``directory=None`` stores nothing (every fetch computes)."""

    def __init__(self, directory: Path | None, max_files: int = MAX_FILES) -> None:
        self.directory = directory
        self.max_files = max_files

    def path(self, kind: str, key: Any) -> Path | None:
        """The file of ``kind`` at ``key`` (None when the store is off)."""
        if self.directory is None:
            return None
        digest = hashlib.sha256(repr((code_version(), kind, key)).encode()).hexdigest()[:32]
        return self.directory / f"{kind}-{digest}.pkl"

    def contains(self, kind: str, key: Any) -> bool:
        path = self.path(kind, key)
        return path is not None and path.exists()

    def fetch(self, kind: str, key: Any, compute: Callable[[], T]) -> T:
        """The stored result of ``kind`` at ``key``, or ``compute()``'s, which is then stored."""
        path = self.path(kind, key)
        if path is not None and path.exists():
            try:
                with open(path, "rb") as file:
                    return pickle.load(file)
            except Exception:  # truncated, from another version of a class: compute it again
                path.unlink(missing_ok=True)
        result = compute()
        if path is not None:
            self._write(path, result)
        return result

    def _write(self, path: Path, result: Any) -> None:
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as file:
                temporary = Path(file.name)
                pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)  # readers see the whole file or none
        except (OSError, pickle.PicklingError):  # a read-only or full disk: the result is returned, not kept
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        """Remove the oldest files beyond :attr:`max_files` (another process may be removing them too)."""
        def modified(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0

        for old in sorted(self.directory.glob("*.pkl"), key=modified, reverse=True)[self.max_files:]:
            old.unlink(missing_ok=True)


def default_store() -> ResultStore:
    """The store at ``$DSL_RESULT_STORE`` (``off``: none), else at :data:`DEFAULT_DIRECTORY`."""
    setting = os.environ.get(STORE_ENV_VAR, "").strip()
    if setting.lower() == "off":
        return ResultStore(None)
    return ResultStore(Path(setting).expanduser() if setting else DEFAULT_DIRECTORY)
