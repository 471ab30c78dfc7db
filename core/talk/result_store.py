"""Trained results kept on disk, so that ``python -m core warm`` can train a talk's scenes before the talk
and the served app (or a restarted one) finds them at once.

A result is stored under a digest of its kind, its key (the Scenario and settings that made it,
by ``repr``) and the code version: the hash of every ``.py`` file below ``core/`` with the torch and numpy
versions, so a change to the engine never serves a stale result. Files are written atomically; the
oldest files beyond :data:`MAX_FILES` are removed. Results are data, never pickles
(:mod:`core.talk.safe_codec`: a JSON tree and numpy arrays, read without running code); a file that
does not decode, or decodes to another type than its kind's, is logged, deleted and recomputed.

``$DSL_RESULT_STORE`` sets the folder (default ``.cache/results`` in the repository); ``off``
switches the store off.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import numpy
import torch

from core.talk.safe_codec import CodecError, dumps, loads

STORE_ENV_VAR = "DSL_RESULT_STORE"
ENGINE = Path(__file__).resolve().parent.parent  # core/
DEFAULT_DIRECTORY = ENGINE.parent / ".cache" / "results"
MAX_FILES = 256
SUFFIX = ".npz"
T = TypeVar("T")
log = logging.getLogger("domain_shift_lab")


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
    """A folder of stored results (:mod:`core.talk.safe_codec`); ``directory=None`` stores nothing (every fetch
    computes)."""

    def __init__(self, directory: Path | None, max_files: int = MAX_FILES) -> None:
        self.directory = directory
        self.max_files = max_files

    def path(self, kind: str, key: Any) -> Path | None:
        """The file of ``kind`` at ``key`` (None when the store is off)."""
        if self.directory is None:
            return None
        digest = hashlib.sha256(repr((code_version(), kind, key)).encode()).hexdigest()[:32]
        return self.directory / f"{kind}-{digest}{SUFFIX}"

    def unwritable(self) -> str | None:
        """Why nothing can be stored (the folder cannot be made or written), or ``None`` when it can."""
        if self.directory is None:
            return "the result store is off"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, suffix=".tmp"):
                pass
        except OSError as error:
            return f"cannot write to {self.directory}: {error.strerror or type(error).__name__}"
        return None

    def contains(self, kind: str, key: Any) -> bool:
        path = self.path(kind, key)
        return path is not None and path.exists()

    def fetch(self, kind: str, key: Any, compute: Callable[[], T], expected: type | None = None) -> T:
        """The stored result of ``kind`` at ``key``, or ``compute()``'s, which is then stored. A stored file that
        is not a result of ours, or not an instance of ``expected``, is deleted (and logged) and recomputed."""
        path = self.path(kind, key)
        if path is not None and path.exists():
            try:
                result = loads(path.read_bytes())
                if expected is not None and not isinstance(result, expected):
                    raise CodecError(f"a {type(result).__name__}, not a {expected.__name__}")
                return result
            except (OSError, CodecError) as error:
                log.warning("Result store: deleted %s, which is not a stored %s: %s", path.name, kind, error)
                path.unlink(missing_ok=True)
        result = compute()
        if path is not None:
            self._write(path, result)
        return result

    def _write(self, path: Path, result: Any) -> None:
        """Write ``result`` at ``path`` atomically; when it cannot (a read-only or full disk, a path that cannot be
        a folder, a value the codec cannot write), log why and keep nothing: the caller keeps its result."""
        temporary = None
        try:
            data = dumps(result)
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as file:
                temporary = Path(file.name)
                file.write(data)
            os.replace(temporary, path)  # readers see the whole file or none
        except (OSError, CodecError) as error:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            log.warning("Result store: could not store %s: %s", path.name, error)
            return
        self._prune()

    def _prune(self) -> None:
        """Remove the oldest files beyond :attr:`max_files` (another process may be removing them too)."""
        def modified(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0

        for stale in self.directory.glob("*.pkl"):  # pickles of an older version: never read, removed
            stale.unlink(missing_ok=True)
        for old in sorted(self.directory.glob(f"*{SUFFIX}"), key=modified, reverse=True)[self.max_files:]:
            old.unlink(missing_ok=True)


def default_store() -> ResultStore:
    """The store at ``$DSL_RESULT_STORE`` (``off``: none), else at :data:`DEFAULT_DIRECTORY`."""
    setting = os.environ.get(STORE_ENV_VAR, "").strip()
    if setting.lower() == "off":
        return ResultStore(None)
    return ResultStore(Path(setting).expanduser() if setting else DEFAULT_DIRECTORY)
