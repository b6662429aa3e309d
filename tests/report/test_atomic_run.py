"""The report is one unit (issue 17): whenever ``policylab evaluate`` is killed, the output folder
holds one whole run; leftovers of killed runs go; a second run into the same folder (or store)
stops at once with exit 2.

Real files and real processes. Two labs, A and B, give reports that differ in every file and in
their region pages (A: ES13 and ES21, B: ES13 and ES22), so a folder mixing them is caught:
after every kill, the files a reader reaches (``index.html``, every region page, and
``results.json``, ``indicators.csv`` and ``indicators.xlsx``) must be byte for byte the report of A or that of B.

The kills: SIGKILL at 15 moments spread evenly over a measured run of the real command, and
deterministically at every checkpoint of the writer (its test hook, POLICYLAB_TEST_WRITE_HOOK:
one between every two steps of the write). A run starts from a copy of a folder a complete run
wrote, which saves a run's seconds where the starting state is all that matters.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from labfiles import TINY_CONFIG, write_tiny_lab

from policylab.report.writer import RUNS_DIR, TEST_HOOK_ENV

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals, symbolic links and flock"),
]

CLI = [sys.executable, "-c", "from policylab.cli import main; main()"]
# one thread for the numeric libraries: every process computes exactly as every other
ENV = {**{k: v for k, v in os.environ.items() if k != TEST_HOOK_ENV},
       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
KILLED = -signal.SIGKILL

# The writer's checkpoints when B's report replaces A's, in order.
STEPS_A_TO_B = [
    "locked", "removed leftovers", "wrote index.html", "wrote results.json",
    "wrote indicators.csv", "wrote indicators.xlsx", "wrote common_indicators.csv",
    "wrote regions/ES13.html",
    "wrote regions/ES22.html",
    "wrote the run folder", "linked regions/ES22.html", "switched", "removed regions/ES21.html",
    "removed the previous run folder",
]


def _lab_config(folder: Path, name: str, regions: list[tuple[str, str, str]]) -> Path:
    head, region = TINY_CONFIG.format(extra="").split("[[regions]]")
    text = head.replace('name = "Tiny lab"', f'name = "{name}"')
    for key, nuts2, title in regions:
        text += "[[regions]]" + region.replace('key = "tiny"', f'key = "{key}"').replace(
            'nuts2 = "ES13"', f'nuts2 = "{nuts2}"').replace(
            'name = "Tiny Region"', f'name = "{title}"')
    path = folder / f"{name.replace(' ', '_').lower()}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _visible(out: Path, skip: set[str] = frozenset()) -> dict[str, bytes]:
    """The report as a reader finds it: the files reached through the folder's names (but
    the hidden ones, the store and those in ``skip``, a user's own files)."""
    found = {}
    for path in sorted(out.iterdir()):
        if path.name.startswith(".") or path.name == "store" or path.name in skip:
            continue
        if path.is_dir():
            found.update({f"{path.name}/{p.name}": p.read_bytes() for p in sorted(path.iterdir())
                          if p.is_file() and f"{path.name}/{p.name}" not in skip})
        elif path.is_file():
            found[path.name] = path.read_bytes()
    return found


def _whole_run(out: Path, refs: dict[str, dict[str, bytes]], skip: set[str] = frozenset()) -> str:
    """Which complete report (``"A"`` or ``"B"``) the folder holds; fails if it holds none."""
    seen = _visible(out, skip)
    index = seen.get("index.html", b"").decode("utf-8")
    linked = set(re.findall(r'href="(regions/[^"#]+\.html)', index))
    assert linked and linked <= set(seen), f"index.html links to missing {linked - set(seen)}"
    for label, files in refs.items():
        if seen == files:
            return label
    mix = {name: [label for label, files in refs.items() if files.get(name) == data] or ["neither"]
           for name, data in seen.items()}
    raise AssertionError(f"{out} holds no whole run: {mix}")


def _store_is_consistent(store: Path) -> None:
    for manifest in sorted((store / "_manifest").glob("*.json")):
        entry = json.loads(manifest.read_text(encoding="utf-8"))
        for info in entry["tables"].values():
            part = store / info["path"]
            assert hashlib.sha256(part.read_bytes()).hexdigest() == info["sha256"], part


def _leftovers(out: Path) -> list[str]:
    """Names in the folder that only a killed run leaves: temporary files and links, a second
    run folder, links that lead nowhere."""
    found = [p.relative_to(out).as_posix() for p in out.rglob("*")
             if re.fullmatch(r".*\.[0-9a-f]{12}\.tmp|.*\.[a-z0-9_]{8}\.tmp", p.name)]
    found += [p.relative_to(out).as_posix() for p in (out / "regions").iterdir()
              if p.is_symlink() and not p.exists() and os.readlink(p).startswith(f"../{RUNS_DIR}/")]
    runs = sorted(f"{RUNS_DIR}/{p.name}" for p in (out / RUNS_DIR).iterdir()
                  if p.name.startswith("run-"))
    return found + (runs if len(runs) != 1 else [])


def _cli(args: list[str], hook: str | None = None) -> tuple[int, str]:
    """Run the real command line in a fresh process; its exit code and stderr."""
    env = {**ENV, TEST_HOOK_ENV: hook} if hook else ENV
    done = subprocess.run(CLI + args, capture_output=True, text=True, env=env, timeout=600,
                          check=False)
    return done.returncode, done.stderr


def _start_from(labs, label: str, out: Path) -> None:
    """Make ``out`` the folder of lab ``label``'s complete run (a copy, links as they are)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(labs[2][label], out, symlinks=True)


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    """Configs of labs A and B (same data files), their complete reports (as a reader finds
    them) and the folders a first ``policylab evaluate`` wrote them to."""
    root = tmp_path_factory.mktemp("atomic")
    write_tiny_lab(root / "lab")
    configs = {
        "A": _lab_config(root / "lab", "Lab A", [("tiny", "ES13", "Tiny Region"),
                                                 ("tiny2", "ES21", "Second Region")]),
        "B": _lab_config(root / "lab", "Lab B", [("tiny", "ES13", "Tiny Region"),
                                                 ("tiny3", "ES22", "Third Region")]),
    }
    refs, folders = {}, {}
    for label, config in configs.items():
        folders[label] = root / f"ref-{label}"
        code, err = _cli(_args(config, folders[label]))
        assert code == 0, err
        refs[label] = _visible(folders[label])
    a, b = refs["A"], refs["B"]
    assert set(a) == {"index.html", "results.json", "indicators.csv", "indicators.xlsx",
                      "common_indicators.csv", "regions/ES13.html",
                      "regions/ES21.html"}
    assert set(b) == set(a) - {"regions/ES21.html"} | {"regions/ES22.html"}
    assert all(a[name] != b[name] for name in set(a) & set(b))  # every file tells A from B
    return configs, refs, folders


def _args(config: Path, out: Path) -> list[str]:
    return ["evaluate", str(config), "--out", str(out), "--quiet"]


def test_a_kill_at_any_of_15_moments_of_a_run_leaves_one_whole_run(labs, tmp_path):
    configs, refs, _ = labs
    out = tmp_path / "out"
    _start_from(labs, "A", out)

    def run(label: str) -> float:
        start = time.monotonic()
        done = subprocess.run(CLI + _args(configs[label], out), capture_output=True, text=True,
                              env=ENV, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        assert _whole_run(out, refs) == label
        return time.monotonic() - start

    duration = run("B")  # a whole run of the real command, start to exit
    state, outcomes = "B", []
    for i in range(15):
        target = "A" if state == "B" else "B"
        start = time.monotonic()
        proc = subprocess.Popen(CLI + _args(configs[target], out), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=ENV)
        time.sleep(duration * (i + 0.5) / 15)
        proc.kill()  # SIGKILL
        _, err = proc.communicate(timeout=600)
        assert proc.returncode in (0, KILLED), err.decode()
        state = _whole_run(out, refs)  # the previous report or the new one, whole
        assert proc.returncode == KILLED or state == target
        if proc.returncode == 0:  # the machine got faster: the next moments follow its pace
            duration = min(duration, time.monotonic() - start)
        outcomes.append((proc.returncode, state))
    assert sum(code == KILLED for code, _ in outcomes) >= 10, outcomes  # most were cut short
    final = "A" if state == "B" else "B"
    run(final)
    assert _leftovers(out) == []
    _store_is_consistent(out / "store")


def test_a_kill_between_any_two_steps_of_the_write_leaves_one_whole_run(labs, tmp_path):
    """B's run over A's report, killed at checkpoint n = 1, 2, ... (each from its own copy of
    A's folder, so the runs go side by side), and once let run past the last checkpoint."""
    configs, refs, _ = labs

    def killed_at(n: int) -> tuple[int, str, Path]:
        out = tmp_path / f"out-{n}"
        _start_from(labs, "A", out)
        code, err = _cli(_args(configs["B"], out), hook=f"kill:{n}")
        return code, err, out

    tries = range(1, len(STEPS_A_TO_B) + 2)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        runs = list(pool.map(killed_at, tries))
    steps = []
    for code, err, out in runs:
        if code == 0:  # past the last checkpoint: the run completed
            assert _whole_run(out, refs) == "B"
            assert _leftovers(out) == []
            _store_is_consistent(out / "store")
            break
        assert code == KILLED, err
        step = re.search(r"policylab test hook: checkpoint \d+: (.+)", err)[1]
        steps.append(step)
        # before the switch the folder shows A's report, from the switch on B's: nothing between
        assert _whole_run(out, refs) == ("B" if "switched" in steps else "A"), step
    assert steps == STEPS_A_TO_B


def test_leftovers_of_a_killed_run_go_and_other_files_stay(labs, tmp_path):
    configs, refs, _ = labs
    out = tmp_path / "out"
    _start_from(labs, "A", out)
    mine = {"notes.txt": b"mine", "regions/notes.html": b"<p>mine</p>",
            ".index.html.mine.tmp": b"x", ".policylab/notes.txt": b"mine",
            "store/notes.txt": b"mine",
            "store/firms/region=tiny/.part-0.parquet.mine.tmp": b"x"}
    for name, data in mine.items():
        (out / name).write_bytes(data)
    (out / "regions" / "elsewhere.html").symlink_to("../../elsewhere.html")  # leads nowhere
    # a run killed after it wrote its folder and linked the new page, before the switch
    code, _ = _cli(_args(configs["B"], out), hook="kill:linked regions/ES22.html")
    assert code == KILLED
    # ... and temporary files a run killed while writing the store leaves
    store_temps = [out / "store" / "firms" / "region=tiny" / ".part-0.parquet.k1ll3d_0.tmp",
                   out / "store" / "_manifest" / ".tiny.json.k1ll3d_0.tmp"]
    for path in store_temps:
        path.write_bytes(b"half")
    assert _whole_run(out, refs, set(mine)) == "A"
    assert sorted(_leftovers(out)) == [".policylab/run-a", ".policylab/run-b", "regions/ES22.html",
                                       "store/_manifest/.tiny.json.k1ll3d_0.tmp",
                                       "store/firms/region=tiny/.part-0.parquet.k1ll3d_0.tmp"]
    assert _cli(_args(configs["B"], out))[0] == 0
    assert _whole_run(out, refs, set(mine)) == "B"
    assert _leftovers(out) == []
    assert {name: (out / name).read_bytes() for name in mine} == mine
    assert os.readlink(out / "regions" / "elsewhere.html") == "../../elsewhere.html"
    assert sorted(p.name for p in (out / RUNS_DIR).iterdir()) == ["current", "lock", "notes.txt",
                                                                  "run-b"]
    _store_is_consistent(out / "store")


def test_a_second_run_into_the_same_folder_or_store_stops_at_once(labs, tmp_path):
    configs, refs, _ = labs
    shared = configs["A"].parent / "lab_a_shared_store.toml"  # lab A, its store elsewhere
    shared.write_text(configs["A"].read_text(encoding="utf-8").replace(
        'output_dir = "out"', 'output_dir = "out"\nstore_dir = "shared-store"'), encoding="utf-8")
    out, other = tmp_path / "out", tmp_path / "other"
    go = tmp_path / "go"
    first = subprocess.Popen(CLI + _args(shared, out), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE,
                             env={**ENV, TEST_HOOK_ENV: f"pause:locked:{go}"})
    try:
        lock = out / RUNS_DIR / "lock"
        deadline = time.monotonic() + 300
        while not (lock.is_file() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None and time.monotonic() < deadline, "it never took the lock"
            time.sleep(0.05)
        store = shared.parent / "shared-store"
        for folder, message in [
            (out, (f"error: another policylab run is writing to {out} (pid {first.pid}); "
                   "wait for it or choose another --out")),
            (other, (f"error: another policylab run is writing to the store {store}; "
                     "wait for it or choose another lab.store_dir")),
        ]:
            second = subprocess.run(CLI + _args(shared, folder), capture_output=True, text=True,
                                    env=ENV, timeout=600, check=False)
            assert (second.returncode, second.stderr, second.stdout) == (2, message + "\n", "")
            assert first.poll() is None  # it stopped at once, while the first still waits
        assert not (other / "index.html").exists()
    finally:
        go.touch()
        _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err.decode()
    seen = _visible(out)  # lab A's report (its config, and so its hash, differs a little)
    assert set(seen) == set(refs["A"]) and seen["indicators.csv"] == refs["A"]["indicators.csv"]
    assert json.loads(seen["results.json"])["lab"]["name"] == "Lab A"
    assert _leftovers(out) == []
    assert lock.read_bytes() == b""  # the pid is there only while a run holds the lock


def test_two_runs_give_byte_identical_reports_whatever_the_run_folder(labs, tmp_path):
    configs, refs, _ = labs
    out = tmp_path / "out"
    _start_from(labs, "A", out)  # a copy of the first run of A, in run folder run-a
    assert os.readlink(out / RUNS_DIR / "current") == "run-a"
    assert _cli(_args(configs["A"], out))[0] == 0
    assert os.readlink(out / RUNS_DIR / "current") == "run-b"
    assert _visible(out) == refs["A"]  # byte for byte, although the run folder's name changed
    current = out / RUNS_DIR / "run-b"
    assert {p.relative_to(current).as_posix(): p.read_bytes()
            for p in current.rglob("*") if p.is_file()} == refs["A"]
