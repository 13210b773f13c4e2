"""A :class:`~tracegraph.index.VenueIndex` on disk: save it once, memory-map it many times.

The format ("tracegraph-index", version 3) is a directory, by convention named
``*.tgidx``, holding

* ``manifest.json``: what the directory is and what it should contain (below);
* one Arrow IPC *file* per array of the index, named after the
  :class:`~tracegraph.index.VenueIndex` field it holds (``start.arrow``,
  ``persons.arrow``, ``class_offsets.arrow``, ...). Each holds one uncompressed record
  batch with one column of that name, so any Arrow reader can open it and
  :func:`open_index` can memory-map it: opening reads the manifest and the Arrow
  footers, not the data, whose pages the kernels fault in as they touch them.

The manifest (JSON, UTF-8)::

    {
      "format": "tracegraph-index",
      "format_version": 3,
      "tracegraph_version": "0.1.0",
      "bucket_width": 3600,                 # seconds: the shortest duration class
      "origin": 1630861200,                 # epoch seconds that start/end count from
      "n_classes": 6,                       # duration classes per venue
      "pseudonymized": false,               # person ids are keyed pseudonyms (absent: false)
      "time_type": "int32",                 # of start/end
      "counts": {"stays": N, "persons": P, "venues": V, "classes": V * n_classes},
      "id_types": {"persons": "int64", "venues": "string"},
      "checksum": {"algorithm": "crc32", "block_bytes": 67108864},
      "files": {"start.arrow": {"bytes": 320001234, "crc32": [...]}, ...},
      "manifest_crc32": 123456789           # of all the fields above (sorted, compact JSON)
    }

``crc32`` lists the CRC-32 of each ``block_bytes`` block of the file, in order, so
that verification can run on every core and a mismatch names the damaged bytes.

Nothing in an index is executable: no pickle, only JSON and Arrow buffers, whose
types and lengths are checked against this module's own table (:data:`_ARRAYS`)
before any kernel sees them.

Writing is atomic: the files go into a hidden temporary directory beside the target
(``.NAME.tmp-XXXXXXXX``, on the same file system), are flushed to disk, and the
directory is renamed into place; ``manifest.json`` is written last, so a temporary
directory left by a killed process is either incomplete and has no manifest, or is
complete. See :func:`save_index` for what replacing an index does.
"""

from __future__ import annotations

import errno
import glob
import json
import os
import pathlib
import re
import secrets
import shutil
import stat
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeGuard

import numpy as np
import pyarrow as pa

from tracegraph._time import MAX_TIME, MIN_TIME
from tracegraph.errors import (
    ArgumentError,
    CorruptIndexError,
    IndexExistsError,
    IndexFormatError,
    IndexNotFound,
    TracegraphError,
)
from tracegraph.index import VenueIndex, _narrow_text
from tracegraph.ingest import as_path

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "CorruptIndexError",
    "IndexExistsError",
    "IndexFormatError",
    "IndexNotFound",
    "open_index",
    "save_index",
]

#: The ``format`` of every saved index's manifest.
FORMAT_NAME = "tracegraph-index"
#: The format version this tracegraph writes and reads. Versions 1 and 2 held a time
#: bucket table (version 1 without zero-length stays); version 3 holds stays sorted by
#: venue and duration class with times from an origin. Older versions are refused.
FORMAT_VERSION = 3

_MANIFEST = "manifest.json"
#: The manifest's field holding the CRC-32 of its other fields (canonical JSON):
#: every field says how to read the data (an edited ``bucket_width`` or ``origin``
#: would give wrong answers from intact files). A manifest without it is refused.
_MANIFEST_CRC = "manifest_crc32"
_SUFFIX = ".arrow"
#: Checksums are kept per block of this many bytes (so that blocks verify in parallel).
_BLOCK_BYTES = 64 * 1024 * 1024
#: The largest manifest :func:`open_index` reads (a real one is a few kB).
_MAX_MANIFEST_BYTES = 1 << 22

#: The numpy arrays of a VenueIndex: (field, dtype, length as (count, plus)), where the
#: length is ``counts[count] + plus``.
#: ``None`` as dtype: the times' type, int32 or int64 (the manifest's ``time_type``).
_ARRAYS: tuple[tuple[str, np.dtype[Any] | None, str, int], ...] = (
    ("start", None, "stays", 0),
    ("end", None, "stays", 0),
    ("person", np.dtype(np.int32), "stays", 0),
    ("venue_offsets", np.dtype(np.int64), "venues", 1),
    ("class_offsets", np.dtype(np.int64), "classes", 1),
    ("person_offsets", np.dtype(np.int64), "persons", 1),
    ("person_stays", np.dtype(np.int32), "stays", 0),
)
_TIME_TYPES: dict[str, np.dtype[Any]] = {
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
}
#: The id dictionaries (pyarrow arrays, integer or string) and their counts.
_DICTIONARIES = (("persons", "persons"), ("venues", "venues"))
#: Offset arrays: each runs from 0 to the count of what it delimits.
_OFFSETS = (
    ("venue_offsets", "stays"),
    ("class_offsets", "stays"),
    ("person_offsets", "stays"),
)
_COUNTS = ("stays", "persons", "venues", "classes")
_FIELDS = tuple(name for name, _ in _DICTIONARIES) + tuple(a[0] for a in _ARRAYS)


def save_index(
    index: VenueIndex, path: str | os.PathLike[str], *, overwrite: bool = False
) -> pathlib.Path:
    """Save ``index`` to the directory ``path``, atomically.

    Parameters
    ----------
    index : VenueIndex
        The index to save.
    path : str or path-like
        The directory to create (its parent must exist). ``.tgidx`` is the
        conventional suffix; none is required.
    overwrite : bool, default False
        Replace an index already saved at ``path``. A path that exists but is not a
        tracegraph index (no ``manifest.json`` naming the format) is never replaced.

    Returns
    -------
    pathlib.Path
        The absolute path of the saved index.

    Raises
    ------
    IndexExistsError
        If ``path`` exists and ``overwrite`` is false, or it exists and is not an index.
    IndexFormatError
        If ``index`` is not saveable: inconsistent arrays, or no per-person view.
    OSError
        If the file system refuses (no parent directory, no permission, disk full, an
        index to replace that cannot be moved aside, such as a mount point).

    See Also
    --------
    open_index : open a saved index.

    Notes
    -----
    The index is written into a hidden temporary directory beside the target
    (``.NAME.tmp-XXXXXXXX``), every file is flushed to disk (``fsync``) and
    checksummed, ``manifest.json`` is written last, and the directory is renamed
    to ``path``. A crash or a kill at any point leaves ``path`` as it was (but see
    below for replacing); only the temporary directory may remain (it is removed
    on any Python exception, and a killed save's by the next save to ``path``, once
    it is a minute old: a save under way holds a lock on its own).
    Replacing an index takes two renames: the old index to ``.NAME.old-XXXXXXXX``,
    then the new one into place, then the old one is deleted. Between the two
    renames, microseconds apart (milliseconds if the saver is descheduled), ``path``
    does not exist: :func:`open_index` then waits for the new index (up to 2 s), and
    after a crash right there the previous index is intact in
    ``.NAME.old-XXXXXXXX``. A reader whose
    :func:`open_index` was under way when the index was replaced starts again on the
    new one (it checks that the directory is the same before and after), so it never
    mixes files of the two. An index opened earlier stays readable after it is
    replaced (POSIX keeps deleted files mapped). Of two saves replacing the same
    index at once, one may fail with :class:`IndexExistsError`.

    Cost: one write of ``index.nbytes`` plus one CRC-32 pass over it (about
    0.4 s per GB per core), then the flush to disk.

    Examples
    --------
    >>> import tempfile
    >>> from tracegraph._store import open_index, save_index
    >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     saved = save_index(index, f"{tmp}/city.tgidx")
    ...     again = open_index(saved)
    ...     print(saved.name, again.n_stays == index.n_stays)
    city.tgidx True
    """
    if not isinstance(index, VenueIndex):
        raise ArgumentError(
            f"`index`: expected a tracegraph.VenueIndex, got {type(index).__name__}"
        )
    if not isinstance(overwrite, bool):  # ("no" would be true: and replace an index)
        raise ArgumentError(f"`overwrite`: expected True or False, got {overwrite!r}")
    target = pathlib.Path(os.path.abspath(as_path(path)))
    dictionaries, arrays, counts = _index_parts(index)
    _check_arrays(arrays, counts, int(index.n_classes), what="index", error=IndexFormatError)
    if target.parent.exists() and not target.parent.is_dir():
        raise NotADirectoryError(
            f"cannot save an index to {target}: {target.parent} is a file, not a directory"
        )
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"cannot save an index to {target}: the directory {target.parent} does not exist"
        )
    replaced = _check_target(target, overwrite=overwrite)
    _remove_abandoned(target)

    try:
        tmp = _new_hidden_dir(target, "tmp")
    except OSError as exc:  # (its message would name the hidden folder, not the index)
        extra = len(_hidden_name(target, "tmp")) - len(target.name)
        fix = (
            f"choose a shorter name (saving first writes a hidden folder beside it, named "
            f".NAME.tmp-XXXXXXXX: {extra} characters longer)"
            if exc.errno == errno.ENAMETOOLONG
            else "save to a folder you can write to"
        )
        raise OSError(
            exc.errno,
            f"cannot save an index to {target}: cannot create a folder in {target.parent} "
            f"({exc.strerror}); {fix}",
        ) from exc
    lock = None
    try:
        try:
            lock = _lock(tmp)  # (held to the end: the folder is no abandoned one to remove)
        except BlockingIOError:
            raise
        except OSError:  # a file system that refuses directory locks (ENOTSUP, ENOLCK):
            pass  # saved unlocked, as before locks; no save there removes folders either
        columns: dict[str, pa.Array] = dict(dictionaries)
        columns.update((name, pa.array(values)) for name, values in arrays.items())
        files = {}
        for name, column in columns.items():
            file = tmp / (name + _SUFFIX)
            _write_column(file, name, column)
            files[file.name] = file
        checksums = _checksums(_map_files(files, tmp), _BLOCK_BYTES)
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "tracegraph_version": _tracegraph_version(),
            "bucket_width": int(index.bucket_width),
            "origin": int(index.origin),
            "n_classes": int(index.n_classes),
            "pseudonymized": bool(index.pseudonymized),
            "time_type": str(arrays["start"].dtype),
            "counts": counts,
            "id_types": {name: str(dictionaries[name].type) for name, _ in _DICTIONARIES},
            "checksum": {"algorithm": "crc32", "block_bytes": _BLOCK_BYTES},
            "files": {
                name: {"bytes": file.stat().st_size, "crc32": checksums[name]}
                for name, file in files.items()
            },
        }
        manifest[_MANIFEST_CRC] = _manifest_crc(manifest)
        with open(tmp / _MANIFEST, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        _move_into_place(tmp, target, replaced=replaced)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    return target


#: A hidden ``.NAME.tmp-XXXXXXXX`` folder at least this old (seconds since it or a
#: file in it last changed) that no save holds locked was left by a killed save: the
#: next save to NAME removes it. (The age covers the moment between a save creating
#: its folder and locking it.)
_ABANDONED_AFTER_S = 60.0


def _lock(path: pathlib.Path) -> int | None:
    """An exclusive lock on the directory ``path``, held until the returned descriptor is closed.

    ``None`` where the system has no ``flock`` (Windows). Raises :class:`BlockingIOError`
    if another open descriptor (a save under way, in this process or another) holds it;
    the lock ends with the process that holds it, however it ends.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_abandoned(target: pathlib.Path) -> list[pathlib.Path]:
    """Remove the temporary folders of saves to ``target`` that were killed; returns them.

    Only folders named as a save names them (``.NAME.tmp-`` and 8 hex digits), not
    symbolic links, unchanged (nor any file in them) for :data:`_ABANDONED_AFTER_S`
    and locked by no one: a save under way holds its folder's lock (:func:`_lock`),
    and a killed one's lock ended with it. A folder is renamed before it is emptied,
    so that a save still writing it after all (on a network file system whose locks
    only its own client sees) fails to rename it into place rather than have its
    index emptied there. Best effort: a folder that cannot be examined or removed is
    left.
    """
    removed: list[pathlib.Path] = []
    pattern = re.compile(rf"\.{re.escape(target.name)}\.tmp-[0-9a-f]{{8}}")
    try:
        candidates = sorted(target.parent.glob(f".{glob.escape(target.name)}.tmp-*"))
    except OSError:
        return removed
    for path in candidates:
        if not pattern.fullmatch(path.name):
            continue
        try:
            info = path.lstat()
            if not stat.S_ISDIR(info.st_mode) or time.time() - _last_change(path, info) < (
                _ABANDONED_AFTER_S
            ):
                continue
            fd = _lock(path)
        except OSError:  # held by a save under way (BlockingIOError), gone, unreadable
            continue
        if fd is None:  # no locks here: nothing can be known to be abandoned
            return removed
        try:
            # renamed before it is emptied: a save that holds the folder after all (its
            # lock unseen here: a network file system's locks may be the client's own)
            # then fails to rename it into place, where it would have been emptied
            claimed = path.with_name(_hidden_name(target, "tmp"))
            os.rename(path, claimed)
        except OSError:  # (gone: renamed into place by its save, or claimed by another)
            os.close(fd)
            continue
        try:
            shutil.rmtree(claimed, ignore_errors=True)
        finally:
            os.close(fd)
        if not os.path.lexists(claimed):
            removed.append(path)
    return removed


def _last_change(folder: pathlib.Path, info: os.stat_result) -> float:
    """When ``folder`` or a file in it last changed (writing a file leaves its folder as it was)."""
    newest = info.st_mtime
    with os.scandir(folder) as entries:
        for entry in entries:
            newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def _index_parts(
    index: VenueIndex,
) -> tuple[dict[str, pa.Array], dict[str, np.ndarray], dict[str, int]]:
    """The id dictionaries, the numpy arrays and the counts of ``index``."""
    dictionaries = {}
    for name, _ in _DICTIONARIES:
        ids = getattr(index, name)
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        if not isinstance(ids, pa.Array) or not _is_id_type(ids.type):
            raise IndexFormatError(
                f"index.{name}: expected a pyarrow array of integer or string ids, "
                f"got {getattr(ids, 'type', type(ids).__name__)}"
            )
        dictionaries[name] = ids
    arrays = {name: np.ascontiguousarray(getattr(index, name)) for name, *_ in _ARRAYS}
    counts = {
        "stays": int(arrays["start"].shape[0]),
        "persons": len(dictionaries["persons"]),
        "venues": len(dictionaries["venues"]),
        "classes": len(dictionaries["venues"]) * int(index.n_classes),
    }
    return dictionaries, arrays, counts


def _check_target(target: pathlib.Path, *, overwrite: bool) -> bool:
    """Whether ``target`` holds an index to replace; raise if it must not be touched."""
    if not os.path.lexists(target):
        return False
    if not overwrite:
        if target.is_symlink() or not _looks_like_index(target):
            raise IndexExistsError(
                f"{target} already exists and is not a tracegraph index; choose another "
                f"path (overwrite=True replaces only an index)"
            )
        raise IndexExistsError(
            f"{target} already exists; pass overwrite=True to replace the index saved there, "
            f"or choose another path"
        )
    if target.is_symlink():
        raise IndexExistsError(
            f"{target} is a symbolic link; refusing to replace it, even with overwrite=True: "
            f"save to the directory it points to, or remove the link yourself"
        )
    if not _looks_like_index(target):
        raise IndexExistsError(
            f"{target} exists and is not a tracegraph index (expected a directory with a "
            f"{_MANIFEST} of format {FORMAT_NAME!r}); refusing to replace it, even with "
            f"overwrite=True: remove it yourself or choose another path"
        )
    return True


def _looks_like_index(path: pathlib.Path) -> bool:
    """Whether ``path`` is a directory whose manifest names our format (content unchecked)."""
    if not path.is_dir():
        return False
    try:
        manifest = json.loads((path / _MANIFEST).read_bytes()[:_MAX_MANIFEST_BYTES])
    except (OSError, ValueError, RecursionError):  # (RecursionError: "[[[[...")
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT_NAME


def _new_hidden_dir(target: pathlib.Path, kind: str) -> pathlib.Path:
    """Create the empty directory ``.NAME.KIND-XXXXXXXX`` beside ``target``.

    Unlike ``tempfile.mkdtemp`` (mode 0o700), it gets the permissions of any new
    directory (0o777 less the umask), which the saved index keeps.
    """
    while True:
        path = target.parent / _hidden_name(target, kind)
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def _hidden_name(target: pathlib.Path, kind: str) -> str:
    """A new random name ``.NAME.KIND-XXXXXXXX`` for a hidden folder beside ``target``."""
    return f".{target.name}.{kind}-{secrets.token_hex(4)}"


def _move_into_place(tmp: pathlib.Path, target: pathlib.Path, *, replaced: bool) -> None:
    """Rename the finished ``tmp`` directory to ``target`` (replacing an index there)."""
    parent = target.parent
    if not replaced:
        try:
            # POSIX rename refuses a non-empty directory and a file in the way
            os.rename(tmp, target)
        except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
            raise IndexExistsError(
                f"{target} was created by someone else while saving; the index was not saved"
            ) from exc
        except OSError as exc:
            if os.path.lexists(target):  # ENOTEMPTY, or EEXIST on some systems
                raise IndexExistsError(
                    f"{target} was created by someone else while saving; the index was not saved"
                ) from exc
            raise
        _fsync_dir(parent)
        return
    old = _new_hidden_dir(target, "old")
    try:
        os.rename(target, old)  # replaces the empty placeholder ``old``
    except FileNotFoundError:  # another save moved it away meanwhile
        old.rmdir()
        raise IndexExistsError(
            f"{target} was being replaced by another save at the same time; this index was "
            f"not saved (the other save's index is there or about to be)"
        ) from None
    except OSError as exc:  # EBUSY for a mount point, EACCES, ...: nothing was moved
        old.rmdir()
        raise OSError(
            exc.errno,
            f"cannot move {target} aside to replace it ({exc.strerror}): the index there "
            f"is kept as it was; if it is a mount point (a container's volume, say), save "
            f"to a folder inside it instead",
        ) from exc
    try:
        os.rename(tmp, target)
    except BaseException:
        try:
            os.rename(old, target)  # put the previous index back
        except OSError:  # another save's index is there now: keep it
            shutil.rmtree(old, ignore_errors=True)
        raise
    _fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)


def _write_column(file: pathlib.Path, name: str, column: pa.Array) -> None:
    """Write ``column`` as the one column ``name`` of one uncompressed Arrow IPC file."""
    batch = pa.record_batch([column], names=[name])
    with pa.OSFile(_os_path(file), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)
    fd = os.open(file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_path(path: pathlib.Path) -> bytes:
    """``path`` as the bytes the OS knows it by, for pyarrow.

    pyarrow encodes a str path as UTF-8, which fails on a name that is not UTF-8 (a
    Latin-1 ``café`` from a Windows zip, which Python holds with surrogate escapes);
    bytes it passes to the OS as they are.
    """
    return os.fsencode(path)


def _fsync_dir(path: pathlib.Path) -> None:
    """Flush a directory's entries to disk (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tracegraph_version() -> str:
    import tracegraph  # at call time: the package is imported by then

    return str(tracegraph.__version__)


# --------------------------------------------------------------------------- opening


def open_index(path: str | os.PathLike[str], *, verify: bool = True) -> VenueIndex:
    """Open an index saved by :func:`save_index`, memory-mapping its arrays.

    Parameters
    ----------
    path : str or path-like
        The directory the index was saved to.
    verify : bool, default True
        Check every byte against the checksums in the manifest before use
        (CRC-32, about 0.4 s per GB per core, spread over the cores). With
        ``False`` only the structure is checked (manifest, file sizes, Arrow
        schemas, lengths, offset bounds), which reads no data, so opening costs
        milliseconds whatever the size; use it for an index verified before, on
        storage you trust: damaged data that passes the structural checks can give
        wrong answers or crash the process.

    Returns
    -------
    VenueIndex
        An index whose arrays are read-only views of the memory-mapped files:
        nothing is copied, and pages are read from disk as queries touch them.
        It works with :func:`tracegraph.trace` and every method of the index.

    Raises
    ------
    IndexNotFound
        If ``path`` is not a directory or holds no ``manifest.json`` (where a save
        replacing the index has moved it aside, after waiting up to 2 s for the new one).
    IndexFormatError
        If the manifest names another format, or a format version newer than this
        tracegraph reads (upgrade tracegraph to open it).
    CorruptIndexError
        If the manifest is not valid JSON or lacks a field, a file is missing, has
        the wrong size, fails its checksum, is not an Arrow file, or holds arrays
        of the wrong type or length.

    See Also
    --------
    save_index : save an index.

    Notes
    -----
    Checks always made (no data read): the manifest's format, version and fields;
    that every file exists with the size recorded (so truncation is caught); that
    each Arrow file holds one column of the expected name, type and length; that
    every offset array starts at 0 and ends at the count it delimits. ``verify``
    adds the checksums, which catch flipped bytes anywhere. Checksums detect damage,
    not tampering: open only indexes you or a trusted process saved.

    The arrays are read-only. Numba compiles its kernels once more for read-only
    arrays (then keeps them in its cache), so the first trace on an opened index
    in a fresh environment takes a second or two longer.

    Examples
    --------
    >>> import tempfile
    >>> from tracegraph._store import open_index, save_index
    >>> index = tg.VenueIndex.from_stays(tiny_city.stays)
    >>> first = tiny_city.stays["person"][0].as_py()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     again = open_index(save_index(index, f"{tmp}/city.tgidx"))
    ...     same = tg.trace(again, [first], tiers=2).contacts.equals(
    ...         tg.trace(index, [first], tiers=2).contacts
    ...     )
    >>> same
    True
    """
    if not isinstance(verify, bool):
        raise ArgumentError(f"`verify`: expected True or False, got {verify!r}")
    root = pathlib.Path(os.path.abspath(as_path(path)))
    # A save with overwrite=True replaces the directory by a rename: files opened one by
    # one while that happens could come from two indexes. The directory must be the
    # same one (device and inode) before the manifest is read and after every file is
    # mapped; if it was replaced meanwhile, open the new one from the start. Between
    # the save's two renames there is no directory, only the old one moved aside:
    # wait for the new one (a saver descheduled under load leaves it missing for ms).
    attempts, waited = 0, 0.0
    while attempts < _OPEN_ATTEMPTS:
        before = _identity(root)
        try:
            index = _open_once(root, verify=verify)
        except (CorruptIndexError, IndexNotFound):
            if _identity(root) != before:
                attempts += 1
                continue
            if before is None and waited < _REPLACE_WAIT and _moved_aside(root):
                time.sleep(_REPLACE_POLL)
                waited += _REPLACE_POLL
                continue
            raise  # the same directory throughout: the error is its own
        if _identity(root) == before:
            return index
        attempts += 1
    raise CorruptIndexError(
        f"{root}: the index was replaced {_OPEN_ATTEMPTS} times while it was being opened "
        f"(saves with overwrite=True in progress?); open it again when they are done"
    )


#: How many times open_index starts again when the index is replaced while it opens.
_OPEN_ATTEMPTS = 5
#: How long (seconds) open_index waits for an index moved aside by a save replacing it
#: (``.NAME.old-XXXXXXXX`` and no ``NAME``) to be followed by the new one, polling
#: every _REPLACE_POLL s. Only a save killed between its renames leaves that state for
#: longer; opening then fails after this wait, naming the moved index.
_REPLACE_WAIT = 2.0
_REPLACE_POLL = 0.005


def _moved_aside(root: pathlib.Path) -> list[pathlib.Path]:
    """The ``.NAME.old-XXXXXXXX`` directories a save replacing ``root`` moves it to."""
    return sorted(root.parent.glob(f".{glob.escape(root.name)}.old-*"))


def _identity(root: pathlib.Path) -> tuple[int, int] | None:
    """The (device, inode) of directory ``root``; None if there is none."""
    try:
        st = os.stat(root)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _open_once(root: pathlib.Path, *, verify: bool) -> VenueIndex:
    """:func:`open_index` of the directory ``root`` as it is now."""
    manifest = _read_manifest(root)
    counts = manifest["counts"]
    files = {name + _SUFFIX: root / (name + _SUFFIX) for name in _FIELDS}
    for name, file in files.items():
        expected = manifest["files"][name]["bytes"]
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            raise CorruptIndexError(
                f"{root}: file {name} is missing; the index is incomplete, save it again"
            ) from None
        if size != expected:
            raise CorruptIndexError(
                f"{root}: file {name} has {size} bytes, expected {expected}: it was "
                f"truncated or altered; save the index again"
            )
    # one mapping per file: the checksums cover exactly the bytes that are then read
    buffers = _map_files(files, root)
    if verify:
        found = _checksums(buffers, manifest["checksum"]["block_bytes"])
        for name in files:
            _compare_checksums(root, name, manifest, found[name])

    columns = {name: _read_column(root, name, buffers[name + _SUFFIX]) for name in _FIELDS}
    dictionaries = {}
    for name, count in _DICTIONARIES:
        ids = columns[name]
        if not _is_id_type(ids.type) or str(ids.type) != manifest["id_types"][name]:
            raise CorruptIndexError(
                f"{root}: file {name}{_SUFFIX}: expected ids of type "
                f"{manifest['id_types'][name]}, got {ids.type}"
            )
        if len(ids) != counts[count] or ids.null_count:
            raise CorruptIndexError(
                f"{root}: file {name}{_SUFFIX}: expected {counts[count]} ids without nulls, "
                f"got {len(ids)} with {ids.null_count} nulls"
            )
        dictionaries[name] = ids
    arrays = {}
    time_type = _TIME_TYPES[manifest["time_type"]]
    for name, wanted, _, _ in _ARRAYS:
        dtype: np.dtype[Any] = time_type if wanted is None else wanted
        column = columns[name]
        if column.type != pa.from_numpy_dtype(dtype) or column.null_count:
            raise CorruptIndexError(
                f"{root}: file {name}{_SUFFIX}: expected {dtype} without nulls, got "
                f"{column.type} with {column.null_count} nulls"
            )
        arrays[name] = _as_numpy(column, dtype)
    _check_arrays(arrays, counts, manifest["n_classes"], what=str(root), error=CorruptIndexError)
    return VenueIndex(
        # (an index saved before text ids were kept as string may hold large_string)
        persons=_narrow_text(dictionaries["persons"]),
        venues=_narrow_text(dictionaries["venues"]),
        bucket_width=manifest["bucket_width"],
        origin=manifest["origin"],
        n_classes=manifest["n_classes"],
        pseudonymized=manifest.get("pseudonymized", False),
        **arrays,
    )


#: What open_index wants, for a user who gave it something else (stays, most likely).
_EXPECTED = (
    "expected a folder written by VenueIndex.save; to index stays files or a folder of "
    "them, use VenueIndex.from_stays"
)


def _read_manifest(root: pathlib.Path) -> dict[str, Any]:
    """The manifest of the index at ``root``, with every field checked for type."""
    if not root.is_dir():
        what = "is not a directory" if root.exists() else "does not exist"
        left = _moved_aside(root)
        if left and not root.exists():
            hint = (
                f"; {left[0]} holds the index a save with overwrite=True was replacing when "
                f"it stopped (unless that save is still under way): rename it to {root.name} "
                f"to use it"
            )
        elif root.exists() and _looks_like_index(root.parent):
            hint = f": the index is the folder {root.parent}; open that"
        else:
            hint = f": {_EXPECTED}" if root.exists() else ""
        raise IndexNotFound(f"no tracegraph index at {root}: the path {what}{hint}")
    try:
        with open(root / _MANIFEST, "rb") as f:
            raw = f.read(_MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise IndexNotFound(
            f"no tracegraph index at {root}: the directory has no {_MANIFEST} (not an index, "
            f"or the temporary directory of an interrupted save): {_EXPECTED}"
        ) from None
    except OSError as exc:
        raise CorruptIndexError(f"{root}: cannot read {_MANIFEST}: {exc}") from exc
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise CorruptIndexError(
            f"{root}: {_MANIFEST} is larger than {_MAX_MANIFEST_BYTES} bytes; it is not a "
            f"tracegraph manifest"
        )
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError, "[[[["
        raise CorruptIndexError(f"{root}: {_MANIFEST} is not valid JSON ({exc})") from None
    where = f"{root}: {_MANIFEST}"
    if not isinstance(manifest, dict):
        raise CorruptIndexError(f"{where}: expected a JSON object, got {type(manifest).__name__}")
    if manifest.get("format") != FORMAT_NAME:
        raise IndexFormatError(
            f"{root}: expected format {FORMAT_NAME!r} in {_MANIFEST}, got "
            f"{manifest.get('format')!r}; this is not a tracegraph index"
        )
    version = manifest.get("format_version")
    if not _is_int(version) or version < 1:
        raise CorruptIndexError(
            f"{where}: expected a positive integer `format_version`, got {version!r}"
        )
    # (a byte flipped in `format_version` must not read as another version: where the
    # manifest has a checksum, it decides first)
    damaged = _MANIFEST_CRC in manifest and manifest[_MANIFEST_CRC] != _manifest_crc(manifest)
    if damaged and version != FORMAT_VERSION:
        raise CorruptIndexError(
            f"{where}: the manifest does not match its checksum `{_MANIFEST_CRC}` (and says "
            f"format version {version}, this tracegraph reads {FORMAT_VERSION}): it was "
            f"changed or damaged after the index was saved; save the index again from its "
            f"stays"
        )
    if version < FORMAT_VERSION:
        raise IndexFormatError(
            f"{root}: index format version {version} (written by tracegraph "
            f"{manifest.get('tracegraph_version', '?')}) predates version {FORMAT_VERSION}, "
            "which stores stays by venue and duration class; rebuild the index from its "
            "stays to open it"
        )
    if version > FORMAT_VERSION:
        raise IndexFormatError(
            f"{root}: index format version {version} (written by tracegraph "
            f"{manifest.get('tracegraph_version', '?')}), but this tracegraph "
            f"({_tracegraph_version()}) reads versions up to {FORMAT_VERSION}; "
            f"upgrade tracegraph to open it"
        )
    if _MANIFEST_CRC not in manifest:
        raise CorruptIndexError(
            f"{where}: expected the manifest's checksum `{_MANIFEST_CRC}`, found none: the "
            f"manifest was edited by hand, or the index was saved by a tracegraph before "
            f"checksummed manifests; save the index again from its stays"
        )
    if manifest[_MANIFEST_CRC] != _manifest_crc(manifest):
        raise CorruptIndexError(
            f"{where}: the manifest does not match its checksum `{_MANIFEST_CRC}`: it was "
            f"changed or damaged after the index was saved (its fields say how to read the "
            f"data: an edited bucket_width or origin would give wrong answers); save the "
            f"index again from its stays"
        )
    for key in ("bucket_width", "origin"):
        if not _is_int(manifest.get(key)) or not -(2**63) <= manifest[key] < 2**63:
            raise CorruptIndexError(
                f"{where}: expected a 64-bit integer `{key}`, got {manifest.get(key)!r}"
            )
    if not MIN_TIME <= manifest["origin"] <= MAX_TIME:
        raise CorruptIndexError(
            f"{where}: expected an `origin` in the years 1-9999 (epoch seconds), got "
            f"{manifest['origin']}"
        )
    if manifest["bucket_width"] <= 0:
        raise CorruptIndexError(
            f"{where}: expected a positive `bucket_width`, got {manifest['bucket_width']}"
        )
    if not _is_int(manifest.get("n_classes")) or not 1 <= manifest["n_classes"] <= 64:
        raise CorruptIndexError(
            f"{where}: expected an integer `n_classes` in 1..64, got {manifest.get('n_classes')!r}"
        )
    if not isinstance(manifest.get("pseudonymized", False), bool):  # (absent: saved before it)
        raise CorruptIndexError(
            f"{where}: expected `pseudonymized` true or false, got {manifest['pseudonymized']!r}"
        )
    if not isinstance(manifest.get("time_type"), str) or manifest["time_type"] not in _TIME_TYPES:
        raise CorruptIndexError(
            f"{where}: expected `time_type` in {sorted(_TIME_TYPES)}, "
            f"got {manifest.get('time_type')!r}"
        )
    counts = _mapping(manifest, "counts", where)
    for key in _COUNTS:
        if not _is_int(counts.get(key)) or counts[key] < 0:
            raise CorruptIndexError(
                f"{where}: expected a count `counts.{key}` >= 0, got {counts.get(key)!r}"
            )
    if counts["classes"] != counts["venues"] * manifest["n_classes"]:
        raise CorruptIndexError(
            f"{where}: expected `counts.classes` = venues x n_classes = "
            f"{counts['venues'] * manifest['n_classes']}, got {counts['classes']}"
        )
    id_types = _mapping(manifest, "id_types", where)
    for name, _ in _DICTIONARIES:
        if not isinstance(id_types.get(name), str):
            raise CorruptIndexError(f"{where}: expected a string `id_types.{name}`")
    checksum = _mapping(manifest, "checksum", where)
    if (
        checksum.get("algorithm") != "crc32"
        or not _is_int(checksum.get("block_bytes"))
        or (checksum["block_bytes"] <= 0)
    ):
        raise CorruptIndexError(
            f"{where}: expected `checksum` {{'algorithm': 'crc32', 'block_bytes': > 0}}, "
            f"got {checksum!r}"
        )
    files = _mapping(manifest, "files", where)
    for field in _FIELDS:
        name = field + _SUFFIX
        entry = files.get(name)
        if not isinstance(entry, dict) or not _is_int(entry.get("bytes")):
            raise CorruptIndexError(f"{where}: expected an entry `files.{name}` with its `bytes`")
        crcs = entry.get("crc32")
        n_blocks = -(-entry["bytes"] // checksum["block_bytes"])
        if not isinstance(crcs, list) or len(crcs) != n_blocks or not all(map(_is_int, crcs)):
            raise CorruptIndexError(
                f"{where}: expected `files.{name}.crc32` to list {n_blocks} block checksums"
            )
    return manifest


def _manifest_crc(manifest: dict[str, Any]) -> int:
    """CRC-32 of the manifest's fields but its own checksum, as canonical JSON."""
    fields = {k: v for k, v in manifest.items() if k != _MANIFEST_CRC}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return zlib.crc32(text.encode("ascii"))


def _mapping(manifest: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = manifest.get(key)
    if not isinstance(value, dict):
        raise CorruptIndexError(f"{where}: expected an object `{key}`, got {value!r}")
    return value


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _map_files(files: dict[str, pathlib.Path], root: pathlib.Path) -> dict[str, pa.Buffer]:
    """Each file memory-mapped read-only, as one buffer (which keeps the mapping alive)."""
    buffers = {}
    for name, file in files.items():
        try:
            with pa.memory_map(_os_path(file), "r") as source:
                buffers[name] = source.read_buffer()
        except (pa.ArrowException, OSError) as exc:
            raise CorruptIndexError(f"{root}: cannot map file {name} ({exc})") from None
    return buffers


def _read_column(root: pathlib.Path, name: str, buffer: pa.Buffer) -> pa.Array:
    """The one column ``name`` of the Arrow IPC file in ``buffer``, without a copy."""
    where = f"{root}: file {name}{_SUFFIX}"
    try:
        table = pa.ipc.open_file(pa.BufferReader(buffer)).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise CorruptIndexError(f"{where}: not a readable Arrow IPC file ({exc})") from None
    if table.column_names != [name]:
        raise CorruptIndexError(
            f"{where}: expected one column `{name}`, got columns {table.column_names}"
        )
    column = table.column(0)
    if column.num_chunks == 0:
        return pa.array([], type=column.type)
    if column.num_chunks > 1:
        raise CorruptIndexError(f"{where}: expected one record batch, got {column.num_chunks}")
    return column.chunk(0)


def _as_numpy(column: pa.Array, dtype: np.dtype[Any]) -> np.ndarray:
    """A read-only numpy view of a primitive Arrow array without nulls (no copy).

    ``Array.to_numpy`` would do the same, but it imports pandas (0.2 s) on first use.
    """
    if not len(column):
        return np.frombuffer(b"", dtype=dtype)
    data = column.buffers()[1]
    return np.frombuffer(
        data, dtype=dtype, count=len(column), offset=column.offset * dtype.itemsize
    )


# --------------------------------------------------------------------------- checks


def _check_arrays(
    arrays: dict[str, np.ndarray],
    counts: dict[str, int],
    n_classes: int,
    *,
    what: str,
    error: type[TracegraphError],
) -> None:
    """Check dtypes, lengths and offset bounds: what kernels rely on.

    O(1) per array, plus one pass over the venue and class offsets (a few per venue).
    The same rules guard saving (so nothing unreadable is written) and opening.
    """
    time_type = arrays["start"].dtype
    if time_type not in _TIME_TYPES.values():
        raise error(f"{what}: `start`: expected int32 or int64 times, got {time_type}")
    for name, wanted, count, plus in _ARRAYS:
        dtype = time_type if wanted is None else wanted
        values = arrays[name]
        length = counts[count] + plus
        if values.dtype != dtype or values.ndim != 1 or values.shape[0] != length:
            raise error(
                f"{what}: `{name}`: expected {length} values of {dtype} ({count}"
                f"{' + 1' if plus else ''}), got shape {values.shape} of {values.dtype}"
                + (
                    "; an index without a per-person view cannot be saved"
                    if name.startswith("person_")
                    else ""
                )
            )
    for name, count in _OFFSETS:
        first, last = int(arrays[name][0]), int(arrays[name][-1])
        if first != 0 or last != counts[count]:
            raise error(
                f"{what}: `{name}`: expected offsets from 0 to {counts[count]}, "
                f"got {first} to {last}"
            )
    classes = arrays["class_offsets"]
    if bool(np.any(classes[1:] < classes[:-1])) or not np.array_equal(
        classes[::n_classes], arrays["venue_offsets"]
    ):
        raise error(
            f"{what}: `class_offsets`: expected non-decreasing offsets that agree with "
            f"`venue_offsets` every {n_classes} classes"
        )


def _is_id_type(typ: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ)
    )


# --------------------------------------------------------------------------- checksums


def _checksums(buffers: dict[str, pa.Buffer], block: int) -> dict[str, list[int]]:
    """CRC-32 of each ``block``-byte block of each buffer, computed on every core.

    ``zlib.crc32`` releases the GIL, so threads run it in parallel; the buffers are
    memory-mapped files, read in place.
    """
    views = {name: memoryview(buffer) for name, buffer in buffers.items()}
    tasks = [(name, at) for name, view in views.items() for at in range(0, view.nbytes, block)]

    def crc(task: tuple[str, int]) -> int:
        name, at = task
        return zlib.crc32(views[name][at : at + block])

    if len(tasks) <= 2:
        results = [crc(task) for task in tasks]
    else:
        with ThreadPoolExecutor(max_workers=min(len(tasks), os.cpu_count() or 1)) as pool:
            results = list(pool.map(crc, tasks))
    out: dict[str, list[int]] = {name: [] for name in buffers}
    for (name, _), value in zip(tasks, results, strict=True):
        out[name].append(value)
    return out


def _compare_checksums(
    root: pathlib.Path, name: str, manifest: dict[str, Any], found: list[int]
) -> None:
    block = manifest["checksum"]["block_bytes"]
    for i, (want, got) in enumerate(zip(manifest["files"][name]["crc32"], found, strict=True)):
        if want != got:
            end = min((i + 1) * block, manifest["files"][name]["bytes"])
            raise CorruptIndexError(
                f"{root}: file {name} fails its checksum in bytes {i * block}..{end}: "
                f"the file is corrupt; save the index again from its stays"
            )
