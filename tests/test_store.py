"""Saved indexes: round trips, memory mapping, overwrite rules, damage and interrupted saves."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pyarrow as pa
import pytest

import tracegraph as tg
from tracegraph import _kernels, _store
from tracegraph._store import (
    FORMAT_VERSION,
    CorruptIndexError,
    IndexExistsError,
    IndexFormatError,
    IndexNotFound,
    open_index,
    save_index,
)
from tracegraph.errors import TracegraphError

ARRAY_FIELDS = [f.name for f in dataclasses.fields(tg.VenueIndex) if f.type == "np.ndarray"]
FILES = sorted(f"{name}.arrow" for name in ["persons", "venues", *ARRAY_FIELDS])


@pytest.fixture(scope="module", params=["int", "str"])
def city(request):
    return tg.synth.generate_city(500, days=2, seed=1, ids=request.param)


@pytest.fixture(scope="module")
def index(city):
    return tg.VenueIndex.from_stays(city.stays)


@pytest.fixture(scope="module")
def other_index():
    """A different index, to tell a replaced index from its replacement."""
    return tg.VenueIndex.from_stays(tg.synth.generate_city(200, days=1, seed=2).stays)


@pytest.fixture(scope="module")
def third_index():
    return tg.VenueIndex.from_stays(tg.synth.generate_city(100, days=1, seed=3).stays)


@pytest.fixture
def saved(index, tmp_path):
    return save_index(index, tmp_path / "city.tgidx")


def assert_same_index(a: tg.VenueIndex, b: tg.VenueIndex) -> None:
    assert a.bucket_width == b.bucket_width
    assert a.origin == b.origin
    assert a.persons.equals(b.persons) and a.persons.type == b.persons.type
    assert a.venues.equals(b.venues) and a.venues.type == b.venues.type
    for name in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)


def case_sets(city):
    persons = city.stays["person"].unique()
    rng = np.random.default_rng(0)
    picks = [rng.choice(len(persons), size=k, replace=False) for k in (1, 3, 20)]
    return [persons.take(pa.array(p)).to_pylist() for p in picks]


def leftovers(parent, name="city.tgidx"):
    return sorted(p.name for p in parent.iterdir() if p.name != name)


# ----------------------------------------------------------------------------- round trip


def test_round_trip_keeps_every_array_and_traces_the_same(city, index, saved):
    opened = open_index(saved)
    assert_same_index(index, opened)
    # the same index, up to the size of the id buffers (Arrow may pad them differently)
    assert repr(opened).rsplit(", ", 1)[0] == repr(index).rsplit(", ", 1)[0]
    for cases in case_sets(city):
        expected = tg.trace(index, cases, tiers=3)
        got = tg.trace(opened, cases, tiers=3)
        assert got.contacts.equals(expected.contacts)
        assert got.edges.equals(expected.edges)
        assert expected.edges.num_rows > 0
    first = city.stays.slice(0, 1).to_pylist()[0]
    assert opened.stays_of(first["person"]).equals(index.stays_of(first["person"]))
    window = (first["start"], first["end"])
    assert opened.stays_at(first["venue"], *window).equals(index.stays_at(first["venue"], *window))


def test_round_trip_without_verify_and_with_other_bucket_width(city, tmp_path):
    index = tg.VenueIndex.from_stays(city.stays, bucket_width="17min")
    opened = open_index(save_index(index, str(tmp_path / "x")), verify=False)
    assert_same_index(index, opened)
    cases = case_sets(city)[1]
    assert tg.trace(opened, cases, tiers=3).edges.equals(tg.trace(index, cases, tiers=3).edges)


def test_an_index_saved_with_large_string_ids_opens_with_string_ids(tmp_path):
    # (indexes saved before text ids were kept as string may hold large_string ones)
    stays = pa.table(
        {
            "person": ["ann", "bob"],
            "venue": ["cafe", "cafe"],
            "start": pa.array([0, 600], pa.timestamp("s", tz="UTC")),
            "end": pa.array([3600, 4200], pa.timestamp("s", tz="UTC")),
        }
    )
    index = tg.VenueIndex.from_stays(stays)
    wide = dataclasses.replace(
        index,
        persons=index.persons.cast(pa.large_string()),
        venues=index.venues.cast(pa.large_string()),
    )
    opened = tg.VenueIndex.open(wide.save(tmp_path / "old.tgidx"))
    assert (opened.persons.type, opened.venues.type) == (pa.string(), pa.string())
    assert tg.trace(opened, ["ann"]).contacts.equals(tg.trace(index, ["ann"]).contacts)


def test_empty_index_round_trips(tmp_path):
    ts = pa.timestamp("s", tz="UTC")
    empty = pa.table(
        {
            "person": pa.array([], pa.string()),
            "venue": pa.array([], pa.int32()),
            "start": pa.array([], ts),
            "end": pa.array([], ts),
        }
    )
    index = tg.VenueIndex.from_stays(empty)
    assert_same_index(index, open_index(save_index(index, tmp_path / "empty.tgidx")))


def non_utf8_dir(parent):
    """A directory whose name is not UTF-8 (Latin-1 ``café``, as a Windows zip unpacks on
    Linux); Python spells it with a surrogate escape. Skipped where the file system refuses."""
    path = parent / os.fsdecode(b"caf\xe9")
    try:
        path.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses names that are not UTF-8")
    return path


@pytest.mark.parametrize("name", ["Hà Nội.tgidx", "city.tgidx"])
def test_paths_of_any_name_and_kind_round_trip(index, tmp_path, monkeypatch, name):
    # str, pathlib, relative, non-ASCII, and a folder whose name is not UTF-8 (pyarrow
    # was given the path as str, which it encodes as UTF-8: a UnicodeEncodeError)
    folder = non_utf8_dir(tmp_path)
    for path in (folder / name, str(folder / "as str"), tmp_path / name):
        saved = save_index(index, path)
        assert saved == (tmp_path / path).absolute() and saved.is_dir()
        assert_same_index(index, open_index(path))
        assert_same_index(index, tg.VenueIndex.open(saved, verify=False))
        save_index(index, path, overwrite=True)
        assert_same_index(index, open_index(saved))
    monkeypatch.chdir(folder)
    assert save_index(index, "relative") == folder / "relative"
    assert_same_index(index, open_index("relative"))
    moved = tmp_path / "moved.tgidx"
    os.rename(folder / name, moved)  # a saved folder moved elsewhere opens the same
    assert_same_index(index, open_index(moved))


def test_save_returns_the_absolute_path_and_writes_the_documented_layout(saved, index):
    assert saved.is_absolute() and saved.name == "city.tgidx"
    assert sorted(p.name for p in saved.iterdir()) == sorted([*FILES, "manifest.json"])
    manifest = json.loads((saved / "manifest.json").read_text())
    assert manifest["format"] == "tracegraph-index"
    assert manifest["format_version"] == FORMAT_VERSION == 3
    assert manifest["tracegraph_version"] == tg.__version__
    assert manifest["counts"] == {
        "stays": index.n_stays,
        "persons": index.n_persons,
        "venues": index.n_venues,
        "classes": index.n_venues * index.n_classes,
    }
    assert manifest["n_classes"] == index.n_classes
    assert manifest["time_type"] == "int32"
    assert manifest["id_types"]["persons"] == str(index.persons.type)
    for name in FILES:
        assert manifest["files"][name]["bytes"] == (saved / name).stat().st_size
        # a plain Arrow IPC file: any Arrow reader opens it
        table = pa.ipc.open_file(saved / name).read_all()
        assert table.column_names == [name.removesuffix(".arrow")]


def test_save_rejects_what_it_cannot_save(index, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the directory .*nowhere does not exist"):
        save_index(index, tmp_path / "nowhere" / "x.tgidx")
    (tmp_path / "a_file").write_text("")  # (it "did not exist" before: it is a file)
    with pytest.raises(NotADirectoryError, match=r"a_file is a file, not a directory"):
        save_index(index, tmp_path / "a_file" / "x.tgidx")
    (tmp_path / "a_file").unlink()
    with pytest.raises(TypeError, match=r"expected a tracegraph\.VenueIndex"):
        save_index(object(), tmp_path / "x")  # type: ignore[arg-type]
    no_view = tg.VenueIndex._from_codes(
        index.persons, index.venues,
        [index.person, index.venue_of(), index.start_seconds(), index.end_seconds()],
        index.bucket_width, person_view=False,
    )  # fmt: skip
    with pytest.raises(IndexFormatError, match="without a per-person view cannot be saved"):
        save_index(no_view, tmp_path / "x")
    assert leftovers(tmp_path, "") == []


def test_a_folder_that_cannot_be_written_names_the_index_not_the_temporary_folder(
    index, tmp_path, monkeypatch
):
    # the save's first write is a hidden folder beside the target: its refusal (a
    # read-only file system, no permission, a name at the length limit) must speak of
    # the path the user gave, not of .NAME.tmp-XXXXXXXX
    longest = "x" * (os.pathconf(tmp_path, "PC_NAME_MAX") - len(".tgidx"))
    with pytest.raises(
        OSError, match=r"cannot save an index to .*\.tgidx: cannot create .*choose a shorter name"
    ) as info:
        save_index(index, tmp_path / f"{longest}.tgidx")
    assert info.value.errno == errno.ENAMETOOLONG
    assert not re.search(r"\.tmp-[0-9a-f]{8}", str(info.value))
    mkdir = os.mkdir

    def read_only(path, *args, **kwargs):
        if ".tmp-" in os.fspath(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.raises(
        OSError,
        match=r"cannot save an index to .*city\.tgidx: cannot create a folder in .*"
        r"\(Read-only file system\); save to a folder you can write to",
    ) as info:
        save_index(index, tmp_path / "city.tgidx")
    assert info.value.errno == errno.EROFS
    assert not re.search(r"\.tmp-[0-9a-f]{8}", str(info.value))
    assert leftovers(tmp_path, "") == []


def test_the_format_holds_every_field_of_the_index():
    # A field added to VenueIndex must get a place in the format (and this list), and
    # a change to the arrays or their meaning needs a new FORMAT_VERSION, so that an
    # older tracegraph refuses the new indexes instead of misreading them.
    scalars = {"bucket_width", "origin", "n_classes", "pseudonymized"}  # in the manifest
    fields = {f.name for f in dataclasses.fields(tg.VenueIndex)} - scalars
    assert set(_store._FIELDS) == fields
    assert FORMAT_VERSION == 3  # 3: stays by venue and duration class, times from an origin
    assert sorted(_store._FIELDS) == [
        "class_offsets", "end", "person", "person_offsets", "person_stays", "persons", "start",
        "venue_offsets", "venues",
    ]  # fmt: skip


@pytest.mark.skipif(not os.path.exists("/proc/self/fd"), reason="needs Linux /proc")
def test_every_file_and_directory_is_flushed_before_the_rename(index, tmp_path, monkeypatch):
    events = []
    fsync, rename = os.fsync, os.rename

    def spy_fsync(fd):
        events.append(("fsync", os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))))
        fsync(fd)

    def spy_rename(src, dst):
        events.append(("rename", os.path.basename(src)))
        rename(src, dst)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(os, "rename", spy_rename)
    saved = save_index(index, tmp_path / "city.tgidx")
    monkeypatch.undo()
    (renamed,) = [i for i, (what, _) in enumerate(events) if what == "rename"]
    tmp_name = events[renamed][1]
    before = {name for what, name in events[:renamed] if what == "fsync"}
    assert before == {*FILES, "manifest.json", tmp_name}
    assert events[renamed + 1 :] == [("fsync", tmp_path.name)]
    assert oct(saved.stat().st_mode & 0o777) == oct(0o777 & ~current_umask())


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- memory mapping


def file_mappings(path):
    """Address ranges at which ``path`` is mapped into this process (Linux)."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip() == str(path):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                ranges.append((lo, hi))
    return ranges


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_opened_arrays_are_read_only_views_of_the_mapped_files(saved):
    opened = open_index(saved)
    checked = 0
    for name in ARRAY_FIELDS:
        values = getattr(opened, name)
        assert not values.flags.writeable and not values.flags.owndata, name
        assert values.flags.c_contiguous and values.flags.aligned, name
        if values.size:
            address = values.ctypes.data
            ranges = file_mappings(saved / f"{name}.arrow")
            assert any(lo <= address and address + values.nbytes <= hi for lo, hi in ranges), name
            checked += 1
    for name in ("persons", "venues"):
        data = getattr(opened, name).buffers()[-1]
        ranges = file_mappings(saved / f"{name}.arrow")
        assert any(lo <= data.address and data.address + data.size <= hi for lo, hi in ranges)
    assert checked == len(ARRAY_FIELDS)


@pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="counts compiled specializations"
)
def test_opened_indexes_compile_once_not_per_open(city, saved):
    kernels = [_kernels.overlapping_stays, _kernels.exposure_intervals]
    cases = case_sets(city)[1]
    tg.trace(open_index(saved), cases, tiers=3)  # may compile the read-only variants
    before = [len(k.signatures) for k in kernels]
    for _ in range(2):
        tg.trace(open_index(saved), cases, tiers=3)
    assert [len(k.signatures) for k in kernels] == before
    # writable (built) and read-only (opened) arrays, each with int32 or int64 times
    assert max(before) <= 4


# ----------------------------------------------------------------------------- overwriting


def test_an_existing_path_is_kept_unless_overwrite(index, other_index, saved):
    with pytest.raises(IndexExistsError, match="already exists; pass overwrite=True") as info:
        save_index(other_index, saved)
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, TracegraphError)
    assert_same_index(index, open_index(saved))
    for flag in ("no", 0, None):  # ("no" was true: it replaced the index)
        with pytest.raises(tg.ArgumentError, match="`overwrite`: expected True or False"):
            other_index.save(saved, overwrite=flag)
        with pytest.raises(tg.ArgumentError, match="`verify`: expected True or False"):
            tg.VenueIndex.open(saved, verify=flag)
    assert_same_index(index, open_index(saved))
    save_index(other_index, saved, overwrite=True)
    assert_same_index(other_index, open_index(saved))
    assert leftovers(saved.parent) == []


def test_overwrite_never_replaces_what_is_not_an_index(other_index, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"meow")
    file = tmp_path / "notes.txt"
    file.write_text("keep me")
    nested = tmp_path / "nested"
    nested.mkdir()
    (nested / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)  # (RecursionError)
    for path in (folder, file, nested):
        with pytest.raises(
            IndexExistsError, match=r"is not a tracegraph index \(.*\); refusing to replace it"
        ):
            save_index(other_index, path, overwrite=True)
    assert (folder / "cat.jpg").read_bytes() == b"meow"
    assert file.read_text() == "keep me"
    link = tmp_path / "link.tgidx"
    link.symlink_to(save_index(other_index, tmp_path / "real.tgidx"))
    with pytest.raises(IndexExistsError, match="is a symbolic link"):
        save_index(other_index, link, overwrite=True)
    assert sorted(leftovers(tmp_path, "")) == [
        "link.tgidx", "nested", "notes.txt", "photos", "real.tgidx"
    ]  # fmt: skip


def test_an_open_index_survives_being_replaced_by_itself(city, saved):
    opened = open_index(saved)
    cases = case_sets(city)[0]
    expected = tg.trace(opened, cases, tiers=3)
    save_index(opened, saved, overwrite=True)  # its own files are deleted while mapped
    assert tg.trace(opened, cases, tiers=3).edges.equals(expected.edges)
    assert_same_index(opened, open_index(saved))


# ----------------------------------------------------------------------------- damage


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x10]))


@pytest.mark.parametrize("name", FILES)
def test_a_flipped_byte_fails_the_checksum_of_its_file(saved, name):
    flip_byte(saved / name, (saved / name).stat().st_size // 2)
    with pytest.raises(
        CorruptIndexError, match=rf"file {name} fails its checksum in bytes 0\.\."
    ) as info:
        open_index(saved)
    assert str(saved) in str(info.value)
    assert isinstance(info.value, OSError)


@pytest.mark.parametrize("name", FILES)
def test_a_truncated_file_is_caught_even_without_verify(saved, name):
    size = (saved / name).stat().st_size
    os.truncate(saved / name, size - 8)
    with pytest.raises(
        CorruptIndexError, match=rf"file {name} has {size - 8} bytes, expected {size}"
    ):
        open_index(saved, verify=False)


def test_a_missing_file_is_named(saved):
    (saved / "class_offsets.arrow").unlink()
    with pytest.raises(CorruptIndexError, match=r"file class_offsets\.arrow is missing"):
        open_index(saved)


def test_a_damaged_arrow_footer_is_an_error_not_a_pyarrow_traceback(saved):
    file = saved / "start.arrow"
    with open(file, "r+b") as f:
        f.seek(-10, os.SEEK_END)
        f.write(b"\xff" * 10)
    with pytest.raises(CorruptIndexError, match=r"start\.arrow: not a readable Arrow IPC file"):
        open_index(saved, verify=False)


def rewrite_manifest(saved, change, *, checksum=True):
    """Change the saved manifest; with ``checksum``, its own checksum follows the change
    (to reach the checks of the fields behind it)."""
    manifest = json.loads((saved / "manifest.json").read_text())
    change(manifest)
    if checksum and "manifest_crc32" in manifest:
        manifest["manifest_crc32"] = _store._manifest_crc(manifest)
    (saved / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(bucket_width=60),
        lambda m: m.update(origin=m["origin"] + 3600),
        lambda m: m["counts"].update(stays=m["counts"]["stays"]),  # only reformatted: fine
        lambda m: m.update(manifest_crc32=m["manifest_crc32"] ^ 1),
    ],
    ids=["bucket_width", "origin", "same", "crc"],
)
def test_an_edited_manifest_fails_its_checksum(saved, index, change, request):
    # intact files read with an edited bucket_width or origin give wrong answers:
    # the manifest's own checksum catches the edit, with or without verify
    rewrite_manifest(saved, change, checksum=False)
    if request.node.callspec.id.endswith("same"):
        assert open_index(saved).n_stays == index.n_stays
        return
    for verify in (True, False):
        with pytest.raises(CorruptIndexError, match="does not match its checksum"):
            open_index(saved, verify=verify)


def test_a_manifest_without_its_checksum_is_refused(saved):
    # removing the checksum must not switch the check off: an edited origin or
    # bucket_width would then open, even with verify=True, and give wrong answers
    def edit(manifest):
        manifest.pop("manifest_crc32")
        manifest["origin"] += 3600

    rewrite_manifest(saved, edit, checksum=False)
    for verify in (True, False):
        with pytest.raises(CorruptIndexError, match="found none: the manifest was edited"):
            open_index(saved, verify=verify)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("time_type", ["int32"], "expected `time_type` in"),
        ("time_type", {"a": 1}, "expected `time_type` in"),
        ("origin", 2**63 - 1, "expected an `origin` in the years 1-9999"),
        ("origin", -(2**62), "expected an `origin` in the years 1-9999"),
        ("pseudonymized", 1, "expected `pseudonymized` true or false"),
        ("pseudonymized", "yes", "expected `pseudonymized` true or false"),
    ],
)
def test_manifest_fields_of_another_json_type_or_range_are_typed_errors(
    saved, field, value, message
):
    rewrite_manifest(saved, lambda m: m.update({field: value}))  # with a valid checksum
    with pytest.raises(CorruptIndexError, match=message):
        open_index(saved, verify=False)


def test_pseudonymized_is_saved_kept_and_false_for_indexes_saved_before_it(saved, index, tmp_path):
    assert not open_index(saved).pseudonymized  # saved with "pseudonymized": false
    rewrite_manifest(saved, lambda m: m.pop("pseudonymized"))  # as saved before the field
    assert not open_index(saved).pseudonymized
    marked = dataclasses.replace(index, pseudonymized=True)
    again = open_index(save_index(marked, tmp_path / "p"))
    assert again.pseudonymized and repr(again).endswith(", pseudonymized)")
    stays = pa.table(
        {
            "person": index.persons.take(pa.array([0])),
            "venue": index.venues.take(pa.array([0])),
            "start": pa.array([0], pa.timestamp("s", tz="UTC")),
            "end": pa.array([60], pa.timestamp("s", tz="UTC")),
        }
    )
    assert again.append(stays).pseudonymized
    assert again.purge(before="1970-01-01T00:00:30Z").pseudonymized
    assert not index.append(stays).pseudonymized


def test_an_index_replaced_while_it_opens_is_opened_whole(saved, index, other_index, monkeypatch):
    # a save with overwrite=True renames a new directory into place: a reader that was
    # opening the old one starts again on the new one, never mixing the two
    from tracegraph import _store

    other = other_index
    assert other.n_stays != index.n_stays
    calls = []
    real = _store._open_once

    def open_then_replace(root, *, verify):
        result = real(root, verify=verify)
        if not calls:  # the first time: another process replaces the index meanwhile
            save_index(other, saved, overwrite=True)
        calls.append(result.n_stays)
        return result

    monkeypatch.setattr(_store, "_open_once", open_then_replace)
    opened = open_index(saved)
    assert calls == [index.n_stays, other.n_stays]
    assert_same_index(opened, other)


def test_a_reader_opening_between_the_two_renames_of_a_replace_waits_for_the_new_index(
    saved, index, other_index
):
    # A save with overwrite=True moves the old index to .NAME.old-XXXXXXXX, then the new
    # one into place: in between, the path does not exist. Under load the saver can be
    # descheduled there for milliseconds: 4 of 900 opens by 3 worker processes failed
    # with IndexNotFound while 16 saves ran. Here the gap is held open for 0.2 s.
    old = saved.parent / f".{saved.name}.old-0123abcd"
    new = save_index(other_index, saved.parent / f".{saved.name}.tmp-0123abcd")
    os.rename(saved, old)

    def second_rename():
        time.sleep(0.2)
        os.rename(new, saved)

    thread = threading.Thread(target=second_rename)
    thread.start()
    try:
        opened = open_index(saved)
    finally:
        thread.join()
    assert_same_index(other_index, opened)
    assert_same_index(index, open_index(old))


def test_a_reader_waits_for_a_replace_only_so_long(saved, monkeypatch):
    # a save killed between its renames leaves .NAME.old-XXXXXXXX for good: the reader
    # waits a bounded time, then says where the index is
    monkeypatch.setattr(_store, "_REPLACE_WAIT", 0.3)
    os.rename(saved, saved.parent / f".{saved.name}.old-0badcafe")
    began = time.monotonic()
    with pytest.raises(tg.IndexNotFound, match=r"old-0badcafe holds the index .* rename it"):
        open_index(saved)
    assert 0.3 <= time.monotonic() - began < 5
    os.rename(saved.parent / f".{saved.name}.old-0badcafe", saved.parent / "elsewhere")
    began = time.monotonic()
    with pytest.raises(tg.IndexNotFound, match=r"the path does not exist$"):
        open_index(saved)  # no save under way: no wait
    assert time.monotonic() - began < 0.3


def test_a_save_racing_another_replace_is_a_typed_error(saved, index, monkeypatch):
    # two saves with overwrite=True at once: the loser, whose index to replace vanished
    # under it, says so (IndexExistsError) and leaves no empty folder behind
    from tracegraph import _store

    real = _store._new_hidden_dir

    def hidden_then_vanish(target, kind):
        path = real(target, kind)
        if kind == "old":  # the other save moves the index away first
            os.rename(target, target.parent / "moved-away")
        return path

    monkeypatch.setattr(_store, "_new_hidden_dir", hidden_then_vanish)
    with pytest.raises(tg.IndexExistsError, match="another save at the same time"):
        save_index(index, saved, overwrite=True)
    assert not [p for p in saved.parent.iterdir() if p.name.startswith(f".{saved.name}.")]


def test_an_index_that_cannot_be_moved_aside_is_kept_and_nothing_is_left(
    saved, index, other_index, monkeypatch
):
    # replacing takes a rename of the old index, which the system may refuse (a mount
    # point, such as a container's volume: EBUSY); the save fails, the index stays, and
    # no empty .NAME.old-XXXXXXXX is left (the hint of a later IndexNotFound names one)
    rename = os.rename

    def busy(src, dst):
        if os.fspath(src) == os.fspath(saved):
            raise OSError(errno.EBUSY, "Device or resource busy", os.fspath(src))
        rename(src, dst)

    monkeypatch.setattr(os, "rename", busy)
    with pytest.raises(OSError, match=r"cannot move .*city\.tgidx aside to replace it .*busy"):
        save_index(other_index, saved, overwrite=True)
    monkeypatch.undo()
    assert_same_index(index, open_index(saved))
    assert leftovers(saved.parent) == []


def test_an_empty_file_that_the_manifest_agrees_with_is_caught(saved):
    os.truncate(saved / "venues.arrow", 0)
    rewrite_manifest(saved, lambda m: m["files"]["venues.arrow"].update(bytes=0, crc32=[]))
    with pytest.raises(CorruptIndexError, match=r"venues\.arrow: not a readable Arrow IPC file"):
        open_index(saved)


def test_a_file_of_the_wrong_type_is_caught(saved, index):
    # a well-formed Arrow file, consistent with the manifest, but int64 where int32 belongs
    file = saved / "start.arrow"
    batch = pa.record_batch([pa.array(index.start.astype(np.int64))], names=["start"])
    with pa.OSFile(str(file), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)

    def change(manifest):
        manifest["files"]["start.arrow"]["bytes"] = file.stat().st_size

    rewrite_manifest(saved, change)
    with pytest.raises(
        CorruptIndexError, match=r"start.arrow: expected int32 without nulls, got int64"
    ):
        open_index(saved, verify=False)


def test_counts_that_disagree_with_the_arrays_are_caught(saved):
    rewrite_manifest(saved, lambda m: m["counts"].update(stays=m["counts"]["stays"] - 1))
    with pytest.raises(CorruptIndexError, match=r"start`: expected \d+ values of int32"):
        open_index(saved, verify=False)
    rewrite_manifest(saved, lambda m: m["counts"].update(stays=m["counts"]["stays"] + 1, classes=1))
    with pytest.raises(CorruptIndexError, match=r"expected `counts.classes` = venues x n_classes"):
        open_index(saved, verify=False)


def test_class_offsets_that_disagree_with_venue_offsets_are_caught(saved, index):
    file = saved / "class_offsets.arrow"
    bad = index.class_offsets.copy()
    bad[1], bad[2] = bad[2], bad[1] + 0  # not monotonic, or shifted
    bad[index.n_classes] += 1
    batch = pa.record_batch([pa.array(bad)], names=["class_offsets"])
    with pa.OSFile(str(file), "wb") as sink, pa.ipc.new_file(sink, batch.schema) as writer:
        writer.write_batch(batch)
    rewrite_manifest(
        saved, lambda m: m["files"]["class_offsets.arrow"].update(bytes=file.stat().st_size)
    )
    with pytest.raises(CorruptIndexError, match="class_offsets`: expected non-decreasing"):
        open_index(saved, verify=False)


def test_a_newer_format_version_asks_for_an_upgrade(saved):
    def change(manifest):
        manifest["format_version"] = FORMAT_VERSION + 1
        manifest["tracegraph_version"] = "9.9.9"

    rewrite_manifest(saved, change)
    with pytest.raises(
        IndexFormatError,
        match=r"format version 4 \(written by tracegraph 9\.9\.9\).* reads versions up to 3; "
        r"upgrade tracegraph",
    ) as info:
        open_index(saved)
    assert isinstance(info.value, ValueError)


def test_an_older_format_version_asks_for_a_rebuild(saved):
    def change(manifest):
        manifest["format_version"] = 2

    rewrite_manifest(saved, change)
    with pytest.raises(IndexFormatError, match=r"format version 2 .* predates version 3.* rebuild"):
        open_index(saved)


@pytest.mark.parametrize("version", [FORMAT_VERSION - 1, FORMAT_VERSION + 4])
def test_a_damaged_format_version_is_corruption_not_another_version(saved, version):
    # a byte flipped in the manifest's version, its checksum left as it was
    path = saved / "manifest.json"
    text = path.read_text()
    flipped = text.replace(f'"format_version": {FORMAT_VERSION}', f'"format_version": {version}')
    assert flipped != text
    path.write_text(flipped)
    with pytest.raises(CorruptIndexError, match=r"does not match its checksum.*format version"):
        open_index(saved)


def test_another_format_is_refused(saved):
    rewrite_manifest(saved, lambda m: m.update(format="something-else"))
    with pytest.raises(
        IndexFormatError, match=r"expected format 'tracegraph-index'.*got 'something"
    ):
        open_index(saved)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x9f garbage \xff", "manifest.json is not valid JSON"),
        (b'{"format": "tracegraph-ind', "manifest.json is not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"[" * 100_000 + b"]" * 100_000, "manifest.json is not valid JSON"),  # RecursionError
        (b'{"format": "tracegraph-index", "format_version": "1"}', "positive integer `format_v"),
    ],
)
def test_a_garbage_manifest_is_corrupt(saved, content, message):
    (saved / "manifest.json").write_bytes(content)
    with pytest.raises(CorruptIndexError, match=message):
        open_index(saved)


@pytest.mark.parametrize(
    "key", ["counts", "files", "checksum", "bucket_width", "origin", "id_types"]
)
def test_a_manifest_missing_a_field_is_corrupt(saved, key):
    rewrite_manifest(saved, lambda m: m.pop(key))
    with pytest.raises(CorruptIndexError, match=f"`{key}`"):
        open_index(saved)


def test_no_index_there(tmp_path, saved):
    with pytest.raises(IndexNotFound, match="the path does not exist") as info:
        open_index(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError)
    (tmp_path / "file").write_text("x")
    with pytest.raises(IndexNotFound, match="is not a directory"):
        open_index(tmp_path / "file")
    # what a notebook user passes by mistake: a stays file or folder, or a file of the index
    stays = tmp_path / "stays"
    stays.mkdir()
    (stays / "day1.parquet").write_bytes(b"PAR1")
    from_stays = r"expected a folder written by VenueIndex\.save; .*VenueIndex\.from_stays"
    with pytest.raises(IndexNotFound, match=rf"is not a directory: {from_stays}"):
        open_index(stays / "day1.parquet")
    with pytest.raises(IndexNotFound, match=rf"has no manifest\.json \(.*\): {from_stays}"):
        open_index(stays)
    with pytest.raises(IndexNotFound, match=r"is not a directory: the index is the folder .*"):
        open_index(saved / "manifest.json")
    (saved / "manifest.json").unlink()
    with pytest.raises(IndexNotFound, match=r"has no manifest\.json"):
        open_index(saved)


# ----------------------------------------------------------------------------- interrupted saves


def test_an_error_midway_leaves_the_previous_index_and_no_temporary_files(
    index, other_index, saved, monkeypatch
):
    write = _store._write_column
    calls = []

    def failing_write(*args):
        calls.append(args)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        write(*args)

    monkeypatch.setattr(_store, "_write_column", failing_write)
    with pytest.raises(OSError, match="No space left"):
        save_index(other_index, saved, overwrite=True)
    monkeypatch.undo()
    assert_same_index(index, open_index(saved))
    assert leftovers(saved.parent) == []

    # a failure of the final rename puts the previous index back
    rename = os.rename

    def failing_rename(src, dst):
        if ".tmp-" in os.fspath(src):
            raise OSError("rename failed")
        rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(OSError, match="rename failed"):
        save_index(other_index, saved, overwrite=True)
    monkeypatch.undo()
    assert_same_index(index, open_index(saved))
    assert leftovers(saved.parent) == []


# The saving process is killed (SIGKILL: no cleanup runs) at a chosen step, which it
# reaches and then waits at, so that the kill lands there every time.
KILL_AT = {
    "between data files": """
        write = _store._write_column
        calls = []
        def hook(*args):
            calls.append(1)
            if len(calls) == 6:
                wait()
            write(*args)
        _store._write_column = hook
    """,
    "before the rename into place": """
        move = _store._move_into_place
        def hook(*args, **kwargs):
            wait()
        _store._move_into_place = hook
    """,
    "between the two renames": """
        rename = os.rename
        def hook(src, dst):
            if ".tmp-" in os.fspath(src):
                wait()
            rename(src, dst)
        os.rename = hook
    """,
}


@pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")
def test_a_save_killed_midway_leaves_the_previous_index_or_none(
    other_index, third_index, tmp_path, monkeypatch
):
    # one process per step, run side by side (each starts Python and imports tracegraph)
    source = save_index(third_index, tmp_path / "source.tgidx")
    runs = {}
    for i, step in enumerate(KILL_AT):
        (tmp_path / f"step{i}").mkdir()
        saved = save_index(other_index, tmp_path / f"step{i}" / "city.tgidx")
        script = "\n".join(
            [
                "import os, sys, time",
                "from tracegraph import _store",
                "def wait():",
                "    print('ready', flush=True)",
                "    time.sleep(60)",
                textwrap.dedent(KILL_AT[step]),
                "new = _store.open_index(sys.argv[1])",
                "_store.save_index(new, sys.argv[2], overwrite=True)",
                "print('finished', flush=True)",
            ]
        )
        command = [sys.executable, "-c", script, str(source), str(saved)]
        runs[step] = (saved, subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    try:
        for step, (_, proc) in runs.items():
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n", step
    finally:
        for _, proc in runs.values():
            proc.send_signal(signal.SIGKILL)
            proc.communicate()

    for step, (saved, _) in runs.items():
        if saved.exists():
            assert_same_index(other_index, open_index(saved))
        else:
            assert step == "between the two renames"
        names = leftovers(saved.parent)
        assert names, f"{step}: the killed save left its temporary directory"
        for name in names:
            assert re.fullmatch(r"\.city\.tgidx\.(tmp|old)-[0-9a-f]{8}", name), (step, name)
            leftover = saved.parent / name
            if ".old-" in name:
                # the previous index, intact, where the docs say it is
                assert_same_index(other_index, open_index(leftover))
            elif step == "between data files":
                with pytest.raises(IndexNotFound, match="interrupted save"):
                    open_index(leftover)

    # the next save to each path removes the killed save's temporary folder (its lock
    # ended with its process) and keeps .old- (the previous index, for the user)
    monkeypatch.setattr(_store, "_ABANDONED_AFTER_S", 0.0)
    for step, (saved, _) in runs.items():
        before = leftovers(saved.parent)
        save_index(other_index, saved, overwrite=saved.exists())
        assert leftovers(saved.parent) == [n for n in before if ".old-" in n], step


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: nothing is removed there")
def test_a_save_removes_only_the_folders_of_killed_saves_to_its_path(index, tmp_path):
    target = tmp_path / "city.tgidx"
    names = {
        ".city.tgidx.tmp-0123abcd": "removed",  # a killed save's: old, unlocked
        ".city.tgidx.tmp-89abcdef": "locked",  # a save under way holds its lock
        ".city.tgidx.tmp-fedcba98": "young",  # just created: maybe not locked yet
        ".city.tgidx.tmp-notmine1": "kept",  # not a name a save gives
        ".city.tgidx.old-0123abcd": "kept",  # the previous index of a save killed later
        ".other.tgidx.tmp-0123abcd": "kept",  # another index's
    }
    an_hour_ago = time.time() - 3600
    for name, kind in names.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "start.arrow").write_bytes(b"partial")
        if kind != "young":  # (its file last written an hour ago too)
            os.utime(tmp_path / name / "start.arrow", (an_hour_ago, an_hour_ago))
            os.utime(tmp_path / name, (an_hour_ago, an_hour_ago))
    (tmp_path / ".city.tgidx.tmp-0badcafe").write_bytes(b"a file, not a save's folder")
    os.utime(tmp_path / ".city.tgidx.tmp-0badcafe", (an_hour_ago, an_hour_ago))
    lock = _store._lock(tmp_path / ".city.tgidx.tmp-89abcdef")
    try:
        save_index(index, target)
        left = sorted(p.name for p in tmp_path.iterdir())
        expected = [n for n, kind in names.items() if kind != "removed"]
        assert left == sorted([*expected, ".city.tgidx.tmp-0badcafe", "city.tgidx"])
    finally:
        os.close(lock)
    save_index(index, target, overwrite=True)  # unlocked now
    assert not (tmp_path / ".city.tgidx.tmp-89abcdef").exists()
    assert (tmp_path / ".city.tgidx.tmp-fedcba98").exists()  # (a minute has not passed)


def _an_hour_old(*paths):
    an_hour_ago = time.time() - 3600
    for path in paths:
        os.utime(path, (an_hour_ago, an_hour_ago))


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: nothing is removed there")
def test_a_save_where_folders_cannot_be_locked_saves_and_removes_nothing(
    index, tmp_path, monkeypatch
):
    # some file systems refuse flock on a directory (ENOTSUP, ENOLCK): saving worked
    # there before saves took locks, and must still; no folder is known abandoned there
    import fcntl

    def refuse(fd, operation):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    left = tmp_path / ".city.tgidx.tmp-0123abcd"
    left.mkdir()
    _an_hour_old(left)
    monkeypatch.setattr(fcntl, "flock", refuse)
    saved = save_index(index, tmp_path / "city.tgidx")
    assert open_index(saved).n_stays == index.n_stays
    assert left.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: nothing is removed there")
def test_a_folder_whose_file_is_still_written_is_not_removed(tmp_path):
    # writing a large column changes the file for minutes, not its folder
    folder = tmp_path / ".city.tgidx.tmp-0123abcd"
    folder.mkdir()
    (folder / "start.arrow").write_bytes(b"being written")
    _an_hour_old(folder)
    assert _store._remove_abandoned(tmp_path / "city.tgidx") == []
    assert (folder / "start.arrow").exists()
    _an_hour_old(folder / "start.arrow", folder)
    assert _store._remove_abandoned(tmp_path / "city.tgidx") == [folder]
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: nothing is removed there")
def test_a_folder_its_save_renames_into_place_while_it_is_removed_is_not_emptied(
    index, tmp_path, monkeypatch
):
    # a network file system's lock may be its client's own: a save on another machine
    # holds its folder unseen here. rmtree empties the folder it opened wherever it has
    # moved since, so were the folder emptied under its own name, a save renaming it
    # into place meanwhile would leave an index without its files at the path
    target = tmp_path / "city.tgidx"
    busy = tmp_path / ".city.tgidx.tmp-0123abcd"
    os.rename(save_index(index, tmp_path / "elsewhere.tgidx"), busy)
    _an_hour_old(*busy.iterdir(), busy)
    real_rmtree = _store.shutil.rmtree

    def rmtree_as_the_other_save_renames(path, ignore_errors=False):
        fd = os.open(path, os.O_RDONLY)  # (as rmtree: the folder opened, then emptied by it)
        try:
            with contextlib.suppress(FileNotFoundError):  # (that save fails: claimed)
                os.rename(busy, target)  # the other machine's save, into place
            for name in os.listdir(fd):
                os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(_store.shutil, "rmtree", rmtree_as_the_other_save_renames)
    _store._remove_abandoned(target)
    assert not target.exists() or open_index(target).n_stays == index.n_stays
    assert leftovers(tmp_path) == []


def test_messages_point_to_what_to_do(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(_store, "_REPLACE_WAIT", 0.05)  # (the wait for a replace under way)
    # a path that is not an index: overwrite=True would not help, so it is not advised
    (tmp_path / "notes").mkdir()
    with pytest.raises(tg.IndexExistsError, match="not a tracegraph index; choose another path"):
        save_index(tg.VenueIndex.open(saved), tmp_path / "notes")
    # a save stopped between its two renames left the old index in .NAME.old-XXXXXXXX
    os.rename(saved, saved.parent / f".{saved.name}.old-0badcafe")
    with pytest.raises(tg.IndexNotFound, match=r"old-0badcafe holds the index .* rename it"):
        open_index(saved)


_TS = pa.timestamp("s", tz="UTC")
_BIG = 2**63 + 7


def _city_index():
    city = tg.synth.generate_city(300, days=2, seed=5)
    return city, tg.VenueIndex.from_stays(city.stays)


def _appended():
    city, base = _city_index()
    shift = pa.scalar(dt.timedelta(days=3))
    later = city.stays.slice(0, 50)
    later = later.set_column(2, "start", pa.compute.add(later["start"], shift))
    later = later.set_column(3, "end", pa.compute.add(later["end"], shift))
    return base.append(later)


def _purged():
    city, base = _city_index()
    return base.purge(before=city.stays["start"][len(city.stays) // 2].as_py())


#: Indexes of every kind a user saves: built several ways, with unusual ids and times.
_KINDS = {
    "uint64 ids of 2**63 and more": lambda: tg.VenueIndex.from_stays(
        pa.table({
            "person": pa.array([_BIG, _BIG + 1, 5], pa.uint64()),
            "venue": pa.array([1, 1, 1], pa.uint64()),
            "start": pa.array([0, 60, 120], _TS), "end": pa.array([600, 700, 800], _TS),
        })
    ),
    "times beyond int32 (int64)": lambda: tg.VenueIndex.from_stays(
        pa.table({
            "person": [1, 2, 3], "venue": [9, 9, 9],
            "start": pa.array([0, 100, 100 * 365 * 86_400], _TS),
            "end": pa.array([600, 700, 100 * 365 * 86_400 + 60], _TS),
        })
    ),
    "one stay": lambda: tg.VenueIndex.from_stays(
        pa.table({"person": ["a"], "venue": ["v"], "start": pa.array([0], _TS),
                  "end": pa.array([60], _TS)})
    ),
    "appended": _appended,
    "purged": _purged,
}  # fmt: skip


@pytest.mark.parametrize("kind", list(_KINDS))
def test_every_kind_of_index_round_trips_and_answers_alike(kind, tmp_path):
    index = _KINDS[kind]()
    opened = open_index(save_index(index, tmp_path / "x.tgidx"))
    assert_same_index(index, opened)
    if kind == "times beyond int32 (int64)":
        assert opened.start.dtype == np.int64
    persons = index.persons.to_pylist()
    cases = persons[:2]
    expected, got = tg.trace(index, cases, tiers=2), tg.trace(opened, cases, tiers=2)
    assert got.contacts.equals(expected.contacts)
    assert got.edges.equals(expected.edges)
    assert tg.copresent_pairs(opened) == tg.copresent_pairs(index)
    loi = tg.trace(index, cases).locations_of_interest()
    assert tg.present_at(opened, loi).equals(tg.present_at(index, loi))
