"""The run folder: creation, atomic file writes and the run record (format version 1).

A run folder is ``<runs>/<YYYYmmdd-HHMMSS>-<name>-<6 hex>/``. It is created with an exclusive
``mkdir``, so two processes starting in the same second never share one, and it is never
reused. Every file is written to a temporary name in the same folder and renamed into place.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from dmrun import __version__
from dmrun.errors import ConfigError, RunDirError

FORMAT_VERSION = 1
RUN_RECORD = "run.json"


def to_json_safe(value: Any) -> Any:
    """Convert NumPy scalars, tuples and non-finite floats into strict-JSON values.

    ``NaN`` and infinities become ``None``, so the output never contains the non-standard
    ``NaN``/``Infinity`` tokens that Python's ``json`` writes by default.
    """
    if isinstance(value, Mapping):
        return {str(key): to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_safe(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):  # NumPy scalar
        return to_json_safe(value.item())
    if hasattr(value, "tolist"):  # NumPy array
        return to_json_safe(value.tolist())
    if isinstance(value, Path):
        return str(value)
    return str(value)


def dumps_json(value: Any) -> str:
    """Serialise ``value`` as indented strict JSON."""
    return json.dumps(to_json_safe(value), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _file_mode() -> int:
    """Return the mode a new file gets under the current umask (mkstemp alone gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Raises:
        RunDirError: when the file cannot be written, for example on a full disk; the previous
            content of ``path``, if any, is left intact.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise RunDirError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        os.fchmod(handle, _file_mode())
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise RunDirError(f"cannot write {path}: {err.strerror or err}") from None


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a library to write; rename it into place on success.

    For writers that want a file name rather than bytes. Errors are raised as in ``write_atomic``.
    """
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(handle)
    except OSError as err:
        raise RunDirError(f"cannot write {path}: {err.strerror or err}") from None
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except OSError as err:
        raise RunDirError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """Write a CSV file atomically; non-finite floats are written as empty cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(_blank_nan(row) for row in rows)
    write_atomic(path, buffer.getvalue())


def _blank_nan(row: Iterable[Any]) -> Iterable[Any]:
    row = tuple(row)
    if any(cell != cell for cell in row):  # only NaN is unequal to itself
        return ["" if cell != cell else cell for cell in row]
    return row


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _git_state(folder: Path) -> dict[str, Any] | None:
    """Return the commit and dirty flag of the git repository containing ``folder``, if any."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def package_versions() -> dict[str, str | None]:
    """Return the versions of dmrun, Python and the libraries already imported."""
    versions: dict[str, str | None] = {"dmrun": __version__, "python": platform.python_version()}
    for module in ("torch", "sklearn", "mlxtend", "numpy", "pandas", "pydantic"):
        loaded = sys.modules.get(module)
        versions[module] = getattr(loaded, "__version__", None) if loaded else None
    return versions


class RunDir:
    """One run folder and its record.

    ``create`` writes ``run.json`` with status ``running``; ``finish`` rewrites it with the final
    status, end time, duration, exit code and, on failure, the error.
    """

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record
        self._started = time.monotonic()

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @classmethod
    def create(cls, runs_dir: Path, name: str, seed: int, config_path: Path | None = None) -> RunDir:
        """Create a new, unique run folder under ``runs_dir`` and write its first record."""
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(
                f"cannot create runs folder {runs_dir}: {err.strerror or err}",
                hint="choose another folder with --runs-dir",
            ) from None
        started = utc_now()
        stamp = started.strftime("%Y%m%d-%H%M%S")
        for _ in range(20):
            path = runs_dir / f"{stamp}-{name}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
            except OSError as err:
                raise RunDirError(f"cannot create run folder {path}: {err.strerror or err}") from None
        else:
            raise RunDirError(f"cannot find a free run folder name under {runs_dir}")
        for sub in ("artifacts", "model"):
            (path / sub).mkdir()

        record = {
            "format_version": FORMAT_VERSION,
            "id": path.name,
            "name": name,
            "status": "running",
            "started": _iso(started),
            "ended": None,
            "duration_s": None,
            "argv": list(sys.argv),
            "cwd": os.getcwd(),
            "config_file": str(config_path.resolve()) if config_path else None,
            "seed": seed,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "versions": package_versions(),
            "git": _git_state(config_path.resolve().parent if config_path else Path.cwd()),
            "exit_code": None,
            "error": None,
        }
        run = cls(path, record)
        run.write_record()
        return run

    def write_record(self) -> None:
        write_atomic(self.path / RUN_RECORD, dumps_json(self.record))

    def write_json(self, relative: str, value: Any) -> Path:
        target = self.path / relative
        write_atomic(target, dumps_json(value))
        return target

    def write_text(self, relative: str, text: str) -> Path:
        target = self.path / relative
        write_atomic(target, text)
        return target

    def finish(self, status: str, exit_code: int, error: BaseException | None = None, **extra: Any) -> None:
        """Rewrite the run record with the final status, and remove empty model/ and artifacts/ folders."""
        self.record.update(
            status=status,
            ended=_iso(utc_now()),
            duration_s=round(time.monotonic() - self._started, 3),
            exit_code=exit_code,
            versions=package_versions(),
            **extra,
        )
        for folder in (self.model_dir, self.artifacts):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if error is not None:
            self.record["error"] = {"type": type(error).__name__, "message": getattr(error, "message", str(error))}
        self.write_record()


# --- reading run folders ----------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_json_file(path: Path | str) -> Any:
    """Return the parsed JSON of ``path``, or None when it is missing or not valid JSON."""
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def read_record(path: Path | str) -> dict[str, Any] | None:
    """Return a run folder's record, with ``status`` ``crashed`` for a dead ``running`` process.

    A run whose process was killed (SIGKILL, power loss) never rewrites its record. When the
    record has status ``running`` on this host and its pid no longer exists, the run is reported
    as crashed. Returns ``None`` for a folder without a readable ``run.json``.
    """
    try:
        with open(os.path.join(path, RUN_RECORD), encoding="utf-8") as stream:
            record = json.load(stream)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    record["path"] = str(path)
    pid = record.get("pid")
    running_here = record.get("status") == "running" and record.get("host") == socket.gethostname()
    if running_here and isinstance(pid, int) and not _pid_alive(pid):
        record["status"] = "crashed"
    return record


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Return the records of every run folder under ``runs_dir``, oldest first."""
    if not runs_dir.is_dir():
        return []
    # scandir reports the entry type from the directory listing, without a stat call per folder.
    with os.scandir(runs_dir) as entries:
        folders = [entry.path for entry in entries if entry.is_dir()]
    records = [record for record in map(read_record, folders) if record is not None]
    return sorted(records, key=lambda record: (str(record.get("started")), record["path"]))


def resolve_run(reference: str, runs_dir: Path) -> Path:
    """Find a run by folder path, by a unique prefix of its id, or as ``latest``.

    Raises:
        RunDirError: when nothing or more than one run matches.
    """
    candidate = Path(reference)
    if (candidate / RUN_RECORD).is_file():
        return candidate
    records = list_runs(runs_dir)
    if reference == "latest":
        if not records:
            raise ConfigError(f"no runs found under {runs_dir}", hint="pass --runs-dir to look elsewhere")
        return Path(records[-1]["path"])
    matches = [record for record in records if str(record.get("id", "")).startswith(reference)]
    if not matches:
        raise ConfigError(
            f"no run matches '{reference}' under {runs_dir}",
            hint="give a run folder path, a prefix of a run id (see `dmrun runs list`), or latest",
        )
    if len(matches) > 1:
        shown = ", ".join(record["id"] for record in matches[:5])
        raise ConfigError(f"'{reference}' matches {len(matches)} runs: {shown}", hint="give a longer prefix")
    return Path(matches[0]["path"])
