"""Write the report as one unit: at every moment the output folder holds one whole run.

The files: ``index.html`` (the comparative overview), ``regions/<nuts2>.html`` (one page per
region), ``results.json`` and ``indicators.csv``. Each run is written into a folder of its
own inside the output folder ``DIR``; the names a reader opens are relative symbolic links
that all pass through one link, ``current``, which is switched to the new run with a single
``rename``::

    DIR/index.html         -> .policylab/current/index.html
    DIR/results.json       -> .policylab/current/results.json
    DIR/indicators.csv     -> .policylab/current/indicators.csv
    DIR/indicators.xlsx    -> .policylab/current/indicators.xlsx
    DIR/common_indicators.csv -> .policylab/current/common_indicators.csv  (EU common indicators)
    DIR/regions/ES13.html  -> ../.policylab/current/regions/ES13.html   (regions/ is a real folder)
    DIR/.policylab/current -> run-a                  the switch
    DIR/.policylab/run-a/  index.html, regions/, results.json, indicators.csv/.xlsx (the run)
    DIR/.policylab/lock    held (fcntl.flock) while a run writes; holds the writer's pid
    DIR/store/             the canonical store (policylab.store); never touched here

A run, in order (the numbers are referred to below):

1. Every file is rendered and encoded in memory; a failure here touches nothing.
2. The folder's lock is taken without waiting: a second run into the same folder stops at once
   with a :class:`~policylab.errors.UserError` naming the first one's pid (``evaluate`` takes
   the lock before it reads anything, so it covers the store's writes too).
3. Leftovers of killed runs are removed: the run folder ``current`` does not point to,
   temporary links, links of policylab's that lead nowhere, and the temporary files earlier
   versions wrote (``.<name>.<12 hex digits>.tmp``). Only names policylab makes are removed.
4. The run is written into the other run folder (``run-a`` and ``run-b`` take turns), every
   file and folder synced to disk.
5. Each file of the new run gets its link in ``DIR`` if it has none yet. A link to a page the
   current run lacks leads nowhere, which a reader sees as no file at all, until step 6.
6. The switch: a new ``current`` link is renamed over the old one (``os.replace``, atomic).
   Before it every name in ``DIR`` resolves into the previous run, after it into the new one.
7. Links of pages the new run does not have (they lead nowhere since step 6) and the previous
   run's folder are removed.

A kill at any moment therefore leaves one whole run, the previous or the new one, and the next
run's step 3 removes what it left. A failure in steps 4-6 removes the new run folder and leaves
the previous report as it was. (A reader that opens ``index.html`` of one run and a region page
after a switch gets the new run's page, as from any folder that is updated; files it holds
open stay readable. Listing ``DIR/regions`` without following links shows, for a moment
around a switch, a link that leads nowhere.) The run folder's name never enters the files (they are
rendered before it is chosen), so the same result always gives the same bytes. The links are
relative and stay inside ``DIR``: moving or copying the whole folder (``cp -r``, ``tar``,
``rsync -a``) keeps a working report; ``index.html`` opens in a browser as before and the
pages' relative links (``regions/ES13.html``, ``../index.html``) work through the links.

Why this layout: ``DIR`` stays a real folder, so the store and a user's own files stay where
they are and nothing is written beside ``DIR``; everything is inside it, so the folder is
still self-contained; and one name, ``current``, changes per run. (Making ``DIR`` itself a
link to the run folder would move the store out of it and could not replace an existing
folder atomically.)

A folder written by an earlier policylab (plain files) is taken over on the first run: its
report files are hard-linked into a run folder that becomes ``current``, then each is replaced
by its link (same bytes); from then on every switch is atomic. Files in ``DIR`` and
``DIR/regions`` that policylab did not write are never touched (but for one at a name of the
report's own, which a run replaces, as it always did). Symbolic links are required
(Linux, macOS; Windows only with Developer Mode); where they cannot be made, the run stops
with a UserError.

Test hook: when the environment variable ``POLICYLAB_TEST_WRITE_HOOK`` is set (never in normal
use), the writer counts its checkpoints (one between every two steps of the write) and, at the
N-th (or the one named N, such as ``switched``), ``kill:N`` kills the process with SIGKILL and
``pause:N:PATH`` waits until PATH exists; it prints which checkpoint on stderr.
``tests/report/test_atomic_run.py`` uses it to interrupt a run between any two steps.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import UserError
from ..evaluation import EvaluationResult
from ..store import exclusive_lock
from ._indicators import common_indicators_csv, indicators_csv
from ._xlsx import indicators_xlsx
from ._serialize import results_json
from .build import INDEX_PATH, REGIONS_DIR, build_report
from .html import render_pages

__all__ = ["REPORT_FILES", "RUNS_DIR", "now_timestamp", "report_lock", "write_report"]

#: Key in the returned mapping -> file name in the output folder (plus one
#: ``regions/<nuts2>.html`` per region, keyed ``"region:<key>"``).
REPORT_FILES = {"html": INDEX_PATH, "json": "results.json", "csv": "indicators.csv",
                "xlsx": "indicators.xlsx", "common_csv": "common_indicators.csv"}

#: The folder (inside the output folder) that holds the runs, the switch and the lock.
RUNS_DIR = ".policylab"
_CURRENT = "current"
_LOCK = "lock"
_SLOTS = ("run-a", "run-b")

_GENERATOR_TAG = b'<meta name="generator" content="policylab '
# Temporary names: ours (links before a rename) and those of earlier versions (files).
_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")
_TEMP_CURRENT = re.compile(r"\.current\.[0-9a-f]{12}\.tmp")
_MOVED_ASIDE = re.compile(r"old-[0-9a-f]{12}")

TEST_HOOK_ENV = "POLICYLAB_TEST_WRITE_HOOK"
_checkpoints = 0


def now_timestamp() -> str:
    """The current time as ISO 8601 UTC to the second (``2026-11-27T09:30:00Z``).

    ``SOURCE_DATE_EPOCH`` (the reproducible-builds convention), when set, is used instead of
    the clock.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch.strip().isdigit():
        moment = _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC)
    else:
        moment = _dt.datetime.now(tz=_dt.UTC)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def report_lock(out_dir: str | Path) -> Iterator[None]:
    """Hold the output folder's lock (created with the folder if missing) for the ``with`` block.

    A second run into the same folder meanwhile stops at once with a UserError:
    "another policylab run is writing to DIR (pid N); wait for it or choose another --out".
    Nested use in one process is allowed (``evaluate`` holds it around ``write_report``).
    """
    out_dir = Path(out_dir)
    runs = out_dir / RUNS_DIR
    runs.mkdir(parents=True, exist_ok=True)

    def busy(pid: int | None) -> str:
        return (f"another policylab run is writing to {out_dir}{f' (pid {pid})' if pid else ''}; "
                "wait for it or choose another --out")

    with exclusive_lock(runs / _LOCK, busy, record_pid=True):
        yield


def write_report(result: EvaluationResult, out_dir: Path, *,
                 timestamp: str | None = None) -> dict[str, Path]:
    """Write the overview page, one page per region, ``results.json``, ``indicators.csv`` and
    ``indicators.xlsx``.

    The report is switched as one unit (see the module notes): the folder shows the previous
    report until the new one is complete, then the new one, whatever happens in between.

    Parameters
    ----------
    result : EvaluationResult
        The evaluation to report on.
    out_dir : Path
        The output folder; created (with parents) if missing.
    timestamp : str, optional
        When the report was generated: shown once in each page's footer and written to
        ``results.json`` as ``generated_at``. None (the default) writes neither, so the same
        result always gives the same bytes.

    Returns
    -------
    dict of str to Path
        ``{"html": .../index.html, "json": .../results.json, "csv": .../indicators.csv,
        "xlsx": .../indicators.xlsx,
        "region:<key>": .../regions/<nuts2>.html, ...}``: the names a reader opens.

    Raises
    ------
    UserError
        Another run is writing to the folder, or symbolic links cannot be made there.
    """
    out_dir = Path(out_dir)
    model = build_report(result, timestamp=timestamp)
    pages = render_pages(model)
    contents: dict[str, tuple[str, bytes]] = {
        "html": (INDEX_PATH, pages[INDEX_PATH].encode("utf-8")),
        "json": (REPORT_FILES["json"], results_json(result, timestamp=timestamp).encode("utf-8")),
        "csv": (REPORT_FILES["csv"], indicators_csv(result).encode("utf-8")),
        "xlsx": (REPORT_FILES["xlsx"], indicators_xlsx(result)),
        "common_csv": (REPORT_FILES["common_csv"], common_indicators_csv(result).encode("utf-8")),
    }
    for page in model.region_pages:
        contents[f"region:{page.region}"] = (page.path, pages[page.path].encode("utf-8"))
    for rel, _ in contents.values():
        _check_relative(rel)
    files = {rel: data for rel, data in contents.values()}
    with report_lock(out_dir):
        _checkpoint("locked")
        _write_run(out_dir, files)
    return {key: out_dir / rel for key, (rel, _) in contents.items()}


# --------------------------------------------------------------------------- the steps

def _write_run(out_dir: Path, files: dict[str, bytes]) -> None:
    runs = out_dir / RUNS_DIR
    _remove_leftovers(out_dir)                                               # step 3
    _checkpoint("removed leftovers")
    current = _take_over_plain_files(out_dir) or _current_slot(runs)
    folder = runs / (_SLOTS[1] if current == _SLOTS[0] else _SLOTS[0])
    made: list[Path] = []
    try:
        _write_folder(folder, files)                                         # step 4
        _checkpoint("wrote the run folder")
        for rel in files:                                                    # step 5
            if _link(out_dir, rel):
                made.append(out_dir / rel)
                _checkpoint(f"linked {rel}")
        for parent in {(out_dir / rel).parent for rel in files}:
            _fsync_dir(parent)
        _switch(runs, folder.name)                                           # step 6
    except BaseException:
        if _current_slot(runs) != folder.name:  # not switched: the previous report stays
            for path in made:  # links to pages the current run lacks lead nowhere
                if path.is_symlink() and not path.exists():
                    path.unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
        raise
    _checkpoint("switched")
    for path in _stale_pages(out_dir, set(files)):                           # step 7
        path.unlink(missing_ok=True)
        _checkpoint(f"removed {path.relative_to(out_dir).as_posix()}")
    _fsync_dir(out_dir / REGIONS_DIR)
    if current is not None and current != folder.name:
        shutil.rmtree(runs / current, ignore_errors=True)
        _checkpoint("removed the previous run folder")


def _write_folder(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir()
    (folder / REGIONS_DIR).mkdir()  # always there, so regions/ never leads nowhere
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        _write_file(folder / rel, data)
        _checkpoint(f"wrote {rel}")
    for sub in sorted({(folder / rel).parent for rel in files} | {folder / REGIONS_DIR},
                      key=lambda p: -len(p.parts)):
        _fsync_dir(sub)


def _switch(runs: Path, slot: str) -> None:
    tmp = runs / f".{_CURRENT}.{secrets.token_hex(6)}.tmp"
    _symlink(slot, tmp, runs.parent, directory=True)
    try:
        os.replace(tmp, runs / _CURRENT)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(runs)


def _link(out_dir: Path, rel: str) -> bool:
    """Make ``out_dir/rel`` policylab's link into the current run; True if it was changed."""
    path = out_dir / rel
    target = _link_target(rel)
    if path.is_symlink() and os.readlink(path) == target:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.is_symlink():
        raise UserError(f"{path.parent}: is a symbolic link; policylab needs a folder there")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    _symlink(target, tmp, out_dir)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def _link_target(rel: str) -> str:
    return "../" * rel.count("/") + f"{RUNS_DIR}/{_CURRENT}/{rel}"


def _is_our_link(path: Path, rel: str) -> bool:
    try:
        return os.readlink(path) == _link_target(rel)
    except OSError:
        return False


def _symlink(target: str, path: Path, out_dir: Path, *, directory: bool = False) -> None:
    try:
        os.symlink(target, path, target_is_directory=directory)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS) or \
                getattr(exc, "winerror", None) == 1314:
            raise UserError(f"{out_dir}: cannot make symbolic links there ({exc.strerror}); "
                            "policylab switches the report to a new run with one: choose an --out "
                            "on a file system that has them") from None
        raise


def _current_slot(runs: Path) -> str | None:
    """The run folder ``current`` points to, if it is a link to one that exists."""
    link = runs / _CURRENT
    try:
        slot = os.readlink(link)
    except OSError:
        return None
    return slot if slot in _SLOTS and (runs / slot).is_dir() else None


def _stale_pages(out_dir: Path, keep: set[str]) -> list[Path]:
    """Pages in ``DIR/regions`` that are not part of the run in ``keep``: policylab's links
    there, and plain pages an earlier policylab wrote (they carry its generator tag)."""
    folder = out_dir / REGIONS_DIR
    if folder.is_symlink() or not folder.is_dir():
        return []
    stale = []
    for path in sorted(folder.iterdir()):
        rel = f"{REGIONS_DIR}/{path.name}"
        if rel in keep or not path.name.endswith(".html"):
            continue
        if _is_our_link(path, rel) or (not path.is_symlink() and _is_our_page(path)):
            stale.append(path)
    return stale


def _is_our_page(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return _GENERATOR_TAG in fh.read(2048)
    except OSError:  # a folder, unreadable: not ours
        return False


# --------------------------------------------------------------------------- leftovers

def _remove_leftovers(out_dir: Path) -> None:
    """Step 3: remove what killed runs left; only names policylab makes."""
    runs = out_dir / RUNS_DIR
    current_link = runs / _CURRENT
    if current_link.exists() and not current_link.is_symlink():  # e.g. a copy made with cp -L
        aside = runs / f"old-{secrets.token_hex(6)}"
        os.rename(current_link, aside)
    current = _current_slot(runs)
    for path in sorted(runs.iterdir()):
        name = path.name
        if name in _SLOTS and name != current or _MOVED_ASIDE.fullmatch(name):
            if path.is_symlink() or not path.is_dir():
                path.unlink()
            else:
                shutil.rmtree(path)
        elif _TEMP_CURRENT.fullmatch(name) and (path.is_symlink() or path.is_file()):
            path.unlink()
    for folder in (out_dir, out_dir / REGIONS_DIR):
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            found = _TEMP.fullmatch(path.name)
            if found and _is_report_name(folder == out_dir, found["name"]) and (
                    path.is_symlink() or path.is_file()):
                path.unlink()  # a temporary link of ours, or a temporary file of an earlier version
            elif folder != out_dir and path.is_symlink() and not path.exists() and \
                    _is_our_link(path, f"{REGIONS_DIR}/{path.name}"):
                path.unlink()  # a page link of a run that never became current, or stale


def _is_report_name(top: bool, name: str) -> bool:
    return name in (INDEX_PATH, REPORT_FILES["json"], REPORT_FILES["csv"]) if top \
        else name.endswith(".html")


def _take_over_plain_files(out_dir: Path) -> str | None:
    """A folder an earlier policylab wrote (plain files, no ``current``): make its report a
    run folder, the current one, and replace each file by its link (same bytes). Returns the
    run folder's name, or None if there was nothing to take over."""
    runs = out_dir / RUNS_DIR
    if _current_slot(runs) is not None:
        return None
    plain = [rel for rel in (INDEX_PATH, REPORT_FILES["json"], REPORT_FILES["csv"])
             if (out_dir / rel).is_file() and not (out_dir / rel).is_symlink()]
    regions = out_dir / REGIONS_DIR
    if regions.is_dir() and not regions.is_symlink():
        plain += [f"{REGIONS_DIR}/{p.name}" for p in sorted(regions.glob("*.html"))
                  if not p.is_symlink() and p.is_file() and _is_our_page(p)]
    if not plain:
        return None
    slot = _SLOTS[0]
    folder = runs / slot
    try:
        folder.mkdir()
        (folder / REGIONS_DIR).mkdir()
        for rel in plain:
            try:
                os.link(out_dir / rel, folder / rel)
            except OSError:  # no hard links here: a copy
                shutil.copyfile(out_dir / rel, folder / rel)
            _checkpoint(f"took over {rel}")
        _fsync_dir(folder / REGIONS_DIR)
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _switch(runs, slot)
    _checkpoint("took over the earlier report")
    for rel in plain:
        _link(out_dir, rel)
        _checkpoint(f"linked {rel}")
    return slot


# --------------------------------------------------------------------------- files

def _check_relative(rel: str) -> None:
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in rel \
            or parts[0] == RUNS_DIR:
        raise ValueError(f"unsafe report file name {rel!r}")  # pragma: no cover - defensive


def _write_file(path: Path, data: bytes) -> None:
    # O_EXCL: the run folder is new, nothing in it is reused; 0o666 lets the umask decide.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that cannot sync a folder
        pass
    finally:
        os.close(fd)


def _checkpoint(step: str) -> None:
    """The test hook (see the module notes); inert unless POLICYLAB_TEST_WRITE_HOOK is set."""
    spec = os.environ.get(TEST_HOOK_ENV)
    if not spec:
        return
    global _checkpoints
    _checkpoints += 1
    action, _, rest = spec.partition(":")
    where, _, arg = rest.partition(":")
    if where not in (str(_checkpoints), step):
        return
    os.write(2, f"policylab test hook: checkpoint {_checkpoints}: {step}\n".encode())
    if action == "kill":
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "pause":
        deadline = time.monotonic() + 600
        while not os.path.exists(arg) and time.monotonic() < deadline:
            time.sleep(0.05)
