"""The run folder: creation, atomic file writes and the run record (format version 1).

A run folder is ``<runs>/<YYYYmmdd-HHMMSS>-<name>-<6 hex>/``. It is created with an exclusive
``mkdir``, so two processes starting in the same second never share one, and it is never
reused. Every file is written to a temporary name in the same folder and renamed into place.

Modules needed only to create or write a run are imported where they are used, so that
``dmrun runs list`` and the other readers start fast.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from dmrun import __version__
from dmrun.errors import ConfigError, RunDirError
from dmrun.names import safe_name
from dmrun.redact import redact_argv, redact_secrets

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


def _temporary_beside(path: Path) -> tuple[int, str]:
    """Create a hidden temporary file in the folder of ``path`` and return its handle and name."""
    import tempfile

    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The temporary file is removed on any failure, an interrupt included, so a folder never
    keeps half-written files.

    Raises:
        RunDirError: when the file cannot be written, for example on a full disk or above the
            file-size limit; the previous content of ``path``, if any, is left intact.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = _temporary_beside(path)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        os.fchmod(handle, _file_mode())
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise write_error(path, err) from None
        raise


def write_error(path: Path, err: OSError) -> RunDirError:
    """Describe a failed write, naming the file and saying when the disk or a limit is the cause."""
    if err.errno == errno.ENOSPC:
        return RunDirError(f"cannot write {path}: the disk is full", hint="free disk space, or choose another folder with --runs-dir")
    if err.errno == errno.EDQUOT:
        return RunDirError(f"cannot write {path}: the disk quota is exceeded", hint="free space within your quota")
    if err.errno == errno.EFBIG:
        return RunDirError(
            f"cannot write {path}: the file-size limit was hit",
            hint="raise the limit (`ulimit -f`) or make the output smaller",
        )
    return RunDirError(f"cannot write {path}: {err.strerror or err}")


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a library to write; rename it into place on success.

    For writers that want a file name rather than bytes. Errors are raised as in ``write_atomic``.
    """
    try:
        handle, name = _temporary_beside(path)
        os.close(handle)
    except OSError as err:
        raise write_error(path, err) from None
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _file_mode())
        os.replace(temporary, path)
    except OSError as err:
        raise write_error(path, err) from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Any]]) -> None:
    """Write a CSV file atomically; non-finite floats are written as empty cells."""
    import csv

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


def iso_now() -> str:
    """Return the current UTC time as run records write it, such as ``2024-05-01T12:00:00.000Z``."""
    return _iso(utc_now())


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


# Libraries whose versions every run records: (key in run.json, module, distribution name).
RECORDED_LIBRARIES = (
    ("torch", "torch", "torch"), ("sklearn", "sklearn", "scikit-learn"), ("mlxtend", "mlxtend", "mlxtend"),
    ("numpy", "numpy", "numpy"), ("pandas", "pandas", "pandas"), ("pydantic", "pydantic", "pydantic"),
    ("pyfim", "fim", "pyfim"),
)


def package_versions() -> dict[str, str | None]:
    """Return the versions of dmrun, Python and the main libraries, None for one not installed.

    A library the run did not import is looked up in the installed package metadata, so runs of
    different commands in one environment record the same versions.
    """
    import platform

    versions: dict[str, str | None] = {"dmrun": __version__, "python": platform.python_version()}
    for key, module, distribution in RECORDED_LIBRARIES:
        loaded = sys.modules.get(module)
        version = getattr(loaded, "__version__", None) if loaded else None  # pyfim has no __version__
        versions[key] = version if version is not None else _installed_version(distribution)
    if "pyspark" in sys.modules:  # only runs on the spark engine load it; it is an optional extra
        versions["pyspark"] = getattr(sys.modules["pyspark"], "__version__", None)
    return versions


@functools.lru_cache(maxsize=None)
def _installed_version(distribution: str) -> str | None:
    """Return the installed version of ``distribution`` from its package metadata, or None."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


class RunDir:
    """One run folder and its record.

    ``create`` writes ``run.json`` with status ``running``; ``finish`` rewrites it with the final
    status, end time, duration, exit code and, on failure, the error. While a process works in
    the folder it holds an exclusive ``flock`` on it, which the kernel releases when the process
    ends in any way, so a run whose lock is free is not running.
    """

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record
        self._started = time.monotonic()
        self._earlier_duration = 0.0
        self._lock: int | None = None

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        name: str,
        seed: int,
        config_path: Path | None = None,
        folder: str | None = None,
        overwrite: bool = False,
    ) -> RunDir:
        """Create a new run folder under ``runs_dir``, lock it and write its first record.

        The folder is ``<YYYYmmdd-HHMMSS>-<name>-<6 hex>``, or exactly ``folder`` when given
        (a validated ``--run-name``).

        Raises:
            ConfigError: when ``runs_dir`` is a file, or ``folder`` exists and ``overwrite`` is false, or cannot be replaced.
            RunDirError: when the folder cannot be created.
        """
        import socket

        for existing in (runs_dir, *runs_dir.parents):
            if not existing.exists():
                continue
            if not existing.is_dir():
                problem = "is a file" if existing == runs_dir else f"cannot be created: {existing} is a file"
                raise ConfigError(
                    f"the runs folder {runs_dir} {problem}, not a folder",
                    hint="give a folder with --runs-dir (or DMRUN_RUNS_DIR); it is created when missing",
                )
            break
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RunDirError(
                f"cannot create runs folder {runs_dir}: {err.strerror or err}",
                hint="choose another folder with --runs-dir",
            ) from None
        started = utc_now()
        name = safe_name(name)
        if folder is None:
            path = _new_folder(runs_dir, started.strftime("%Y%m%d-%H%M%S"), name)
        else:
            path = _named_folder(runs_dir, folder, overwrite)
        run = cls(path, {})
        run.lock()
        for sub in ("artifacts", "model"):
            (path / sub).mkdir()

        run.record = {
            "format_version": FORMAT_VERSION,
            "id": path.name,
            "name": name,
            "status": "running",
            "started": _iso(started),
            "ended": None,
            "duration_s": None,
            "argv": redact_argv(list(sys.argv)),
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
        run.write_record()
        return run

    @classmethod
    def reopen(cls, path: Path) -> RunDir:
        """Lock an existing run folder to continue it; the caller updates and rewrites the record.

        Raises:
            ConfigError: when another process holds the folder or its record is unreadable.
        """
        run = cls(path, {})
        run.lock()
        try:
            run.record = json.loads((path / RUN_RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            run.unlock()
            raise ConfigError(f"cannot read the record of run {path}: {err}") from None
        run._earlier_duration = float(run.record.get("duration_s") or 0.0)
        # finish() removed them if they were empty.
        for sub in ("artifacts", "model"):
            (path / sub).mkdir(exist_ok=True)
        # A process killed during a write leaves its temporary file; the lock shows none is in use.
        for leftover in path.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                leftover.unlink()
        return run

    def lock(self) -> None:
        """Take the folder's exclusive lock, or raise ``ConfigError`` when another process has it."""
        handle = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise ConfigError(
                f"run {self.path.name} is in use by another dmrun process",
                hint="wait for that process to end; `dmrun runs list` shows its status",
            ) from None
        except OSError:
            # NOTE: a file system without flock support leaves the folder unlocked, so crashed
            # runs there are recognised by their pid on the same host only.
            os.close(handle)
            return
        self._lock = handle

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

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
            duration_s=round(self._earlier_duration + time.monotonic() - self._started, 3),
            exit_code=exit_code,
            versions=package_versions(),
            **extra,
        )
        for folder in (self.model_dir, self.artifacts):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if error is not None:
            message = redact_secrets(getattr(error, "message", str(error)))
            # The error of another rank of a distributed run keeps its own type and names its rank.
            error_type = getattr(error, "error_type", None) or type(error).__name__
            self.record["error"] = {"type": error_type, "message": message}
            hint = getattr(error, "hint", None)
            if hint:
                self.record["error"]["hint"] = redact_secrets(hint)
            if hasattr(error, "rank"):
                self.record["error"]["rank"] = error.rank
        self.write_record()


def _new_folder(runs_dir: Path, stamp: str, name: str) -> Path:
    """Create ``<stamp>-<name>-<6 hex>`` exclusively, drawing new hex digits on a collision."""
    for _ in range(20):
        path = runs_dir / f"{stamp}-{name}-{os.urandom(3).hex()}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as err:
            raise RunDirError(f"cannot create run folder {path}: {err.strerror or err}") from None
    raise RunDirError(f"cannot find a free run folder name under {runs_dir}")


def _named_folder(runs_dir: Path, folder: str, overwrite: bool) -> Path:
    """Create ``runs_dir/folder`` exclusively, first removing an earlier run there if ``overwrite``."""
    path = runs_dir / folder
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ConfigError(
                f"run folder {path} already exists",
                hint=f"use --overwrite to replace it, or `dmrun train --resume {path}` to continue an interrupted run",
            )
        _remove_run(path)
    try:
        path.mkdir()
    except FileExistsError:
        raise ConfigError(f"run folder {path} was created by another process just now") from None
    except OSError as err:
        raise RunDirError(f"cannot create run folder {path}: {err.strerror or err}") from None
    return path


def _remove_run(path: Path) -> None:
    """Remove an earlier run folder for ``--overwrite``: never a running run or a folder that is no run.

    The folder is first renamed to a hidden name, so the new run never meets stale files of the
    old one, even if the removal is interrupted.
    """
    if path.is_symlink() or not path.is_dir():
        raise ConfigError(f"{path} exists and is not a run folder, so --overwrite does not remove it")
    if not (path / RUN_RECORD).is_file() and any(path.iterdir()):
        raise ConfigError(f"{path} has no {RUN_RECORD}, so it is not a run folder; --overwrite does not remove it")
    holder = RunDir(path, {})
    holder.lock()
    trash = path.with_name(f".removing-{path.name}-{os.urandom(3).hex()}")
    try:
        path.rename(trash)
    except OSError as err:
        raise RunDirError(f"cannot remove run folder {path}: {err.strerror or err}") from None
    finally:
        holder.unlock()
    shutil.rmtree(trash, ignore_errors=True)


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
    record has status ``running`` and its pid no longer exists on this host, or no process holds
    the folder's lock (after a reboot the pid may belong to another process), the run is reported
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
    if record.get("status") == "running" and not _still_running(path, record):
        record["status"] = "crashed"
    return record


def _still_running(path: Path, record: dict[str, Any]) -> bool:
    """Tell whether the process of a ``running`` record is alive: its pid exists and it holds the lock."""
    pid = record.get("pid")
    import socket

    if record.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid):
        return False
    try:
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # another process has the lock, or the file system cannot tell
    finally:
        os.close(handle)
    return False


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Return the records of every run folder under ``runs_dir``, oldest first."""
    if not runs_dir.is_dir():
        return []
    # scandir reports the entry type from the directory listing, without a stat call per folder.
    # Hidden folders are runs being removed by --overwrite.
    with os.scandir(runs_dir) as entries:
        folders = [entry.path for entry in entries if entry.is_dir() and not entry.name.startswith(".")]
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
