"""Files for other engines: the Parquet engine, output folders checked first, atomic writes.

What :mod:`~isoanalytics.present.export` and :mod:`~isoanalytics.present.snapshots` share:

- :func:`parquet_engine` imports pyarrow, or raises :class:`MissingExtraError` naming the
  extra that installs it (``pip install 'isoanalytics[export]'``). pyarrow was chosen over
  DuckDB writing Parquet by measurement (``tests/benchmarks/bench_export.py``) and because it
  is pandas' own Parquet engine: what it writes reads back in pandas dtype for dtype
  (categoricals, nullable integers, UTC instants), which DuckDB's writer does not keep.
- :func:`check_folder` refuses an output folder before any work: a file, a FIFO or a device
  where the folder should be, a parent that does not exist or cannot take a new entry (tried
  by making one: permissions alone do not tell under root, a read-only mount or an immutable
  folder), or a folder of something else that would be replaced.
- :func:`publish_folder` moves a finished temporary folder over the target in one step
  (``renameat2(RENAME_EXCHANGE)`` on Linux), so readers see the previous dataset or the whole
  new one, even if the process is killed at any moment; :func:`write_file` does the same for
  one file (temporary name, fsync, rename).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXTRA", "DatasetPathError", "DatasetWriteError", "MissingExtraError",
           "check_folder", "parquet_engine", "publish_folder", "temporary_folder", "write_file",
           "write_parquet"]

EXTRA = "export"  # pyproject.toml's optional dependencies: isoanalytics[export] brings pyarrow
# A temporary entry of ours beside a target: hidden (a leading dot), so pyarrow, DuckDB globs
# and Spark skip it, and named so that a person who finds one after a crash knows whose it is.
TEMPORARY_PREFIX = ".isoanalytics-"
PART = "part-0.parquet"


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra that brings it.

    Attributes
    ----------
    extra : str
        The extra to install, e.g. ``"export"`` for ``pip install 'isoanalytics[export]'``.

    Examples
    --------
    >>> from isoanalytics.present.datasets import MissingExtraError
    >>> error = MissingExtraError("Parquet needs pyarrow", extra="export", name="pyarrow")
    >>> isinstance(error, ImportError), error.extra
    (True, 'export')
    """

    def __init__(self, message: str, *, extra: str, name: str | None = None) -> None:
        super().__init__(message, name=name)
        self.extra = extra


class DatasetPathError(ValueError):
    """An output folder that cannot take the dataset, found before any work is done.

    Attributes
    ----------
    path : str
        The path as given.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics.present.datasets import DatasetPathError, check_folder
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     file = pathlib.Path(folder, "notes.txt")
    ...     _ = file.write_text("mine")
    ...     try:
    ...         check_folder(file, "export folder")
    ...     except DatasetPathError as error:
    ...         print("is a file" in str(error))
    True
    """

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class DatasetWriteError(OSError):
    """The dataset could not be written (a full disk, a folder made read-only meanwhile).

    The previous dataset, if any, is left as it was and no temporary file stays behind.

    Examples
    --------
    >>> from isoanalytics.present.datasets import DatasetWriteError
    >>> error = DatasetWriteError("the disk is full", path="out")
    >>> isinstance(error, OSError), error.path
    (True, 'out')
    """

    def __init__(self, message: str, *, path: str, error_number: int | None = None) -> None:
        super().__init__(error_number, message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return self.message


def parquet_engine(what: str = "Parquet files") -> ModuleType:
    """``pyarrow.parquet``, or :class:`MissingExtraError` saying how to install it.

    Examples
    --------
    >>> from isoanalytics.present.datasets import parquet_engine
    >>> parquet_engine().__name__
    'pyarrow.parquet'
    """
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise MissingExtraError(
            f"{what} need pyarrow, which is not installed: pip install 'isoanalytics[{EXTRA}]' "
            "(or pip install pyarrow)", extra=EXTRA, name="pyarrow") from None
    return parquet


def check_folder(path: str | os.PathLike[str], what: str, *,
                 ours: Callable[[Path], bool] = lambda folder: False,
                 other: str = "it would be replaced whole, so it is left alone") -> Path:
    """The folder to write, refused (:class:`DatasetPathError`) before any work if it cannot be.

    ``path`` may not exist yet (its parent must); if it exists it must be a folder that is
    empty or that ``ours`` recognises (a previous export), never a file or another folder's
    contents (``other`` says why not). A link is followed: the dataset goes where it points.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from isoanalytics.present.datasets import check_folder
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     check_folder(pathlib.Path(folder, "out"), "export folder").name
    'out'
    """
    given = os.fspath(path)
    named = f"{what} {given!r}"
    target = Path(os.path.realpath(Path(path).expanduser()))
    with contextlib.suppress(FileNotFoundError):
        mode = target.stat().st_mode
        if not stat.S_ISDIR(mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else
                    "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
                    "a socket" if stat.S_ISSOCK(mode) else "a file")
            raise DatasetPathError(f"{named} is {kind}, not a folder; it is never replaced. "
                                   "Name a folder (it is created)", path=given)
        # Our own temporaries do not count: another run may be making the folder right now.
        held = [entry for entry in target.iterdir()
                if not entry.name.startswith(TEMPORARY_PREFIX)]
        if held and not ours(target):
            raise DatasetPathError(
                f"{named} is a folder that holds other files; {other}. Name a new folder or "
                "an empty one", path=given)
    if not target.parent.is_dir():
        raise DatasetPathError(f"{named}: the folder {str(target.parent)!r} does not exist; "
                               "create it or choose another path", path=given)
    try:  # permissions alone do not tell (root; a read-only mount; chattr +i): make one
        probe = tempfile.mkdtemp(dir=target.parent, prefix=f"{TEMPORARY_PREFIX}probe-")
    except OSError as error:
        raise DatasetPathError(
            f"{named}: cannot create a folder in {str(target.parent)!r} "
            f"({error.strerror or error}); choose a folder you can write to", path=given
        ) from None
    os.rmdir(probe)
    return target


def temporary_folder(target: Path, kind: str) -> Path:
    """A new, hidden folder beside ``target`` (same file system: it can be renamed over it)."""
    return Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{TEMPORARY_PREFIX}{kind}-"))


def write_error(error: OSError, path: Path | str, kept: str) -> DatasetWriteError:
    """The :class:`DatasetWriteError` for ``error``, saying what was ``kept``."""
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    reason = "the disk is full" if full else (error.strerror or str(error))
    return DatasetWriteError(
        f"could not write {str(path)!r}: {reason}; {kept}. "
        f"{'Free some space' if full else 'Check the folder'} or choose another path",
        path=str(path), error_number=error.errno)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2``); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    done = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                     _RENAME_EXCHANGE)
    if done == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # a file system without it
        return False
    raise OSError(number, os.strerror(number), str(second))


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def publish_folder(finished: Path, target: Path) -> None:
    """Put the folder ``finished`` in the place of ``target``, whole, and remove the old one.

    A new target is one rename. An existing one is swapped with ``finished`` in one step where
    the system can (then the old copy, now at ``finished``'s name, is removed); elsewhere it is
    renamed aside first, which leaves a moment in which a killed process would leave the
    previous dataset under a hidden ``.isoanalytics-`` name beside it rather than in place.
    """
    _sync_folder(finished)
    if not target.exists():
        os.rename(finished, target)
    elif _exchange(finished, target):
        shutil.rmtree(finished, ignore_errors=True)
    else:
        aside = temporary_folder(target, "previous")
        os.rmdir(aside)
        os.rename(target, aside)
        os.rename(finished, target)
        shutil.rmtree(aside, ignore_errors=True)
    _sync_folder(target.parent)


def write_file(path: Path, write: Callable[[Path], object]) -> None:
    """Write one file atomically: ``write`` fills a hidden temporary beside ``path``, which is
    synced and renamed onto it; on any failure the temporary is removed and ``path`` untouched.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part",
                                         prefix=f"{TEMPORARY_PREFIX}{path.name}.")
    os.close(handle)
    try:
        write(Path(temporary))
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's files are private; a dataset is for reading
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def write_parquet(frame: pd.DataFrame, root: Path, *, partition_by: str | None = None) -> None:
    """Write ``frame`` as the Parquet dataset ``root`` (a new folder), with pyarrow.

    Unpartitioned: ``root/part-0.parquet``. Partitioned: ``root/<key>=<value>/part-0.parquet``
    for each category of the categorical column ``partition_by`` (an empty file for a
    category without rows, so every reader sees the schema); the frame's rows must be ordered
    by it. The key is in the folder names (hive partitioning), not in the files: Spark refuses
    a column that is in both. pandas' metadata is kept, so pandas reads the dtypes back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from isoanalytics.present.datasets import write_parquet
    >>> frame = pd.DataFrame({"organisation_id": pd.Categorical(["org_A", "org_B"]),
    ...                       "credit_kgs": [1000, 2000]})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_parquet(frame, pathlib.Path(folder, "t"), partition_by="organisation_id")
    ...     back = pd.read_parquet(pathlib.Path(folder, "t"))
    >>> back["credit_kgs"].tolist(), back["organisation_id"].tolist()
    ([1000, 2000], ['org_A', 'org_B'])
    """
    parquet = parquet_engine()
    import pyarrow as pa

    root.mkdir()
    if partition_by is None:
        parquet.write_table(pa.Table.from_pandas(frame, preserve_index=False), root / PART)
        return
    keys = frame[partition_by]
    if not hasattr(keys, "cat"):
        raise TypeError(f"write_parquet(partition_by={partition_by!r}) needs that column "
                        "as a categorical (its categories name the partitions)")
    codes = keys.cat.codes.to_numpy()
    if len(codes) and (np.diff(codes) < 0).any():
        raise ValueError(f"write_parquet(): order the rows by {partition_by!r} first")
    # One conversion of the whole frame, then a slice per partition.
    arrow = pa.Table.from_pandas(frame.drop(columns=partition_by), preserve_index=False)
    bounds = np.searchsorted(codes, np.arange(len(keys.cat.categories) + 1))
    folders = [root / f"{partition_by}={key}" for key in keys.cat.categories]
    for folder in folders:
        folder.mkdir()

    def write(code: int) -> None:
        parquet.write_table(arrow.slice(bounds[code], bounds[code + 1] - bounds[code]),
                            folders[code] / PART)

    # pyarrow writes without the GIL: files on threads, as many as there are processors.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(write, range(len(folders))))  # list(): the first error is raised
