"""Reloader: file changes as they really happen (Kubernetes ConfigMap, editor, git checkout),
broken changes, the content-hash poll and SIGHUP.  Every wait is bounded; no timing is asserted.

Watch tests set a long poll interval, so only the file watcher can find the change;
the poll test turns the watcher off.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

import pytest

from rules_engine.reload import LiveRuleSet, ReloadAttempt, Reloader, fingerprint
from rules_engine.ruleset import RuleSet
from tests.reload_helpers import BROKEN, one_file, rules_yaml, targets_yaml, until, write

EVENT = {"type": "order", "detail": {"n": 0}}
NO_POLL = 3600.0


class Recorder:
    """Every reload outcome, as the subscribers see them."""

    def __init__(self, live: LiveRuleSet) -> None:
        self.ok: list[ReloadAttempt] = []
        self.failed: list[ReloadAttempt] = []
        live.subscribe(self._ok, self.failed.append)

    def _ok(self, rs: RuleSet, a: ReloadAttempt) -> None:
        self.ok.append(a)


def serving(live: LiveRuleSet) -> list[str]:
    return [d.target for d in live.current.evaluate(EVENT)]


class ConfigMapVolume:
    """A ConfigMap volume as the kubelet writes it: keys are symlinks through ``..data``,
    which points at a ``..<timestamp>`` folder; an update writes a new timestamped folder,
    swaps ``..data`` by renaming a new symlink over it, and removes the old folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        self.current: Path | None = None

    def update(self, files: dict[str, str]) -> None:
        self.generation += 1
        ts = self.root / f"..2026_12_06_02_00_{self.generation:02d}.{self.generation:09d}"
        ts.mkdir()
        for name, text in files.items():
            (ts / name).write_text(text, encoding="utf-8")
            if self.current is not None and (self.current / name).exists():
                st = (self.current / name).stat()  # the kubelet may leave modification times as they were
                os.utime(ts / name, ns=(st.st_atime_ns, st.st_mtime_ns))
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(ts.name)
        os.rename(tmp, self.root / "..data")  # the one atomic step
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        if self.current is not None:
            shutil.rmtree(self.current)
        self.current = ts


@pytest.mark.parametrize("watch_file", [False, True], ids=["folder", "file"])
def test_configmap_update_is_one_reload(tmp_path: Path, watch_file: bool) -> None:
    vol = ConfigMapVolume(tmp_path)
    vol.update({"targets.yaml": targets_yaml("v1"), "rules.yaml": rules_yaml("v1")})
    # Watching one key file goes through its parent folder; the set is then that file only.
    paths = [str(tmp_path / "rules.yaml"), str(tmp_path / "targets.yaml")] if watch_file else [str(tmp_path)]

    async def scenario() -> None:
        live = LiveRuleSet(paths)
        rec = Recorder(live)
        assert serving(live) == ["t-v1"]
        async with Reloader(live, debounce=0.1, poll_interval=NO_POLL) as reloader:
            assert reloader.watching
            # same sizes as before, so neither size nor mtime tells the change
            vol.update({"targets.yaml": targets_yaml("v2"), "rules.yaml": rules_yaml("v2")})
            await until(lambda: serving(live) == ["t-v2"], "the ConfigMap update to serve")
        assert [a.trigger for a in rec.ok] == ["watch"] and not rec.failed
        assert live.version == fingerprint(paths)

    asyncio.run(scenario())


def test_editor_write_temp_then_rename(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    write(f, one_file("v1"))

    async def scenario() -> None:
        live = LiveRuleSet([str(tmp_path)])
        rec = Recorder(live)
        async with Reloader(live, debounce=0.1, poll_interval=NO_POLL):
            tmp = tmp_path / ".rules.yaml.swp"
            tmp.write_text(one_file("v2"))
            os.replace(tmp, f)
            await until(lambda: serving(live) == ["t-v2"], "the saved file to serve")
        assert len(rec.ok) == 1 and not rec.failed

    asyncio.run(scenario())


def test_checkout_of_several_files_is_one_reload_never_half(tmp_path: Path) -> None:
    """A target renamed in one file and used in another: the half-new tree is invalid (E302)
    and must neither be served nor reported; the whole new tree is one reload."""
    (tmp_path / "a-targets.yaml").write_text(targets_yaml("v1"))
    (tmp_path / "b-rules.yaml").write_text(rules_yaml("v1", rules=50))
    (tmp_path / "c-more.yaml").write_text("rules:\n  - name: other\n    match: {type: [x]}\n    targets: [t-v1]\n")

    async def scenario() -> None:
        live = LiveRuleSet([str(tmp_path)])
        rec = Recorder(live)
        async with Reloader(live, debounce=0.1, poll_interval=NO_POLL):
            # what git does: unlink + write each changed file in turn
            for name, text in [("a-targets.yaml", targets_yaml("v2")), ("b-rules.yaml", rules_yaml("v2", rules=50)),
                               ("c-more.yaml", "rules:\n  - name: other\n    match: {type: [x]}\n    targets: [t-v2]\n")]:
                (tmp_path / name).unlink()
                (tmp_path / name).write_text(text)
            await until(lambda: serving(live) == ["t-v2"], "the checkout to serve")
        assert len(rec.ok) == 1 and rec.ok[0].changed and not rec.failed
        assert dict(live.status.reloads) == {"success": 1, "failure": 0}

    asyncio.run(scenario())


def test_broken_change_refused_old_version_keeps_serving(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    write(f, one_file("v1"))

    async def scenario() -> None:
        live = LiveRuleSet([str(tmp_path)])
        v1 = live.version
        rec = Recorder(live)
        async with Reloader(live, debounce=0.05, poll_interval=0.2):
            write(f, BROKEN)
            await until(lambda: len(rec.failed) == 1, "the broken change to be refused")
            a = rec.failed[0]
            assert [d.code for d in a.diagnostics] == ["E102"] and "error[E102]" in a.rendered
            assert live.version == v1 and serving(live) == ["t-v1"] and not live.status.last_reload_successful
            # the poll keeps looking at the same broken files: refused once, not on every poll
            polls = 3
            for _ in range(polls):
                write(tmp_path / "unrelated.txt", "x")  # an event that changes no rule file
            await asyncio.sleep(0.5)  # a few poll intervals; the assertion is on counts, not time
            assert len(rec.failed) == 1
            write(f, one_file("v3"))
            await until(lambda: serving(live) == ["t-v3"], "the fixed file to serve")
        assert live.status.last_reload_successful and dict(live.status.reloads) == {"success": 1, "failure": 1}

    asyncio.run(scenario())


def test_poll_finds_a_change_with_the_same_size_and_mtime(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    write(f, one_file("v1"))
    st = f.stat()

    async def scenario() -> None:
        live = LiveRuleSet([str(tmp_path)])
        rec = Recorder(live)
        async with Reloader(live, poll_interval=0.05, watch=False) as reloader:
            assert not reloader.watching
            f.write_text(one_file("v2"))
            os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
            await until(lambda: serving(live) == ["t-v2"], "the poll to find the change")
        assert [a.trigger for a in rec.ok] == ["poll"]

    asyncio.run(scenario())


def test_sighup_reloads_and_reports(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    write(f, one_file("v1"))

    async def scenario() -> None:
        live = LiveRuleSet([str(tmp_path)])
        rec = Recorder(live)
        async with Reloader(live, poll_interval=NO_POLL, watch=False) as reloader:
            reloader.install_sighup()
            os.kill(os.getpid(), signal.SIGHUP)  # nothing changed: a forced, unchanged reload
            await until(lambda: len(rec.ok) == 1, "the first SIGHUP reload")
            assert rec.ok[0].trigger == "sighup" and not rec.ok[0].changed
            write(f, one_file("v2"))
            os.kill(os.getpid(), signal.SIGHUP)
            await until(lambda: serving(live) == ["t-v2"], "the SIGHUP reload to serve")
            write(f, BROKEN)
            os.kill(os.getpid(), signal.SIGHUP)
            await until(lambda: len(rec.failed) == 1, "the failed SIGHUP reload")
        assert [a.trigger for a in rec.ok + rec.failed] == ["sighup"] * 3
        # stopped: the handler is removed again
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL

    asyncio.run(scenario())
