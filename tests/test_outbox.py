"""The outbox file: cursors per sink, removal once every sink has an event, the bound and its
count, dead letters; the state directory's fallbacks and its single-process lock."""

from __future__ import annotations

import logging
import os
import random
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest

from streamwatch.config.model import DEFAULT_STATE_DIR
from streamwatch.delivery import Outbox, OutboxError, StateDirError
from streamwatch.delivery import state_dir as state_dir_module
from streamwatch.delivery.sinks import type_filter
from streamwatch.delivery.state_dir import locked, resolve_state_dir
from streamwatch.events import Event


def _event(n: int, camera: str = "door", kind: str = "face.new") -> Event:
    return Event.create(kind, node="test", camera=camera, subject=f"{camera}-{n}", data={"n": n})


def _ids(outbox: Outbox, sink: str) -> list[str]:
    return [p.event.id for p in outbox.pending(sink, limit=1000) if p.is_for(sink)]


def test_an_event_stays_until_every_sink_has_it(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        outbox.attach(["a", "b"])
        events = [_event(n) for n in range(3)]
        seqs = [outbox.append(event) for event in events]
        assert _ids(outbox, "a") == _ids(outbox, "b") == [e.id for e in events]

        outbox.acknowledge("a", seqs[1])
        assert _ids(outbox, "a") == [events[2].id]
        assert outbox.held() == 3  # b has none of them yet
        outbox.acknowledge("b", seqs[0])
        assert outbox.held() == 2
        # The event read back is the event written: same id, same JSON.
        assert outbox.pending("b")[0].event == events[1]


def test_the_outbox_survives_a_reopen_with_its_cursors(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as outbox:
        outbox.attach(["a"])
        first, second = _event(1), _event(2)
        outbox.acknowledge("a", outbox.append(first))
        outbox.append(second)
    with Outbox(path) as reopened:
        reopened.attach(["a"])
        assert _ids(reopened, "a") == [second.id]
    # WAL mode, as the outbox promises.
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_full_outbox_drops_the_oldest_and_counts_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Outbox(tmp_path / "outbox.db", max_events=10) as outbox:
        outbox.attach(["down"])
        events = [_event(n) for n in range(15)]
        with caplog.at_level(logging.WARNING, "streamwatch.delivery"):
            for event in events:
                outbox.append(event)
        assert outbox.held() == 10
        assert _ids(outbox, "down") == [e.id for e in events[5:]]
        assert outbox.counter("dropped_full") == 5
    assert "outbox full (10 events): dropping the oldest" in caplog.text


def test_a_new_sink_starts_at_the_end_and_a_removed_one_frees_its_events(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as outbox:
        outbox.attach(["old"])
        outbox.append(_event(1))
    with Outbox(path) as outbox:
        outbox.attach(["new"])  # "old" is no longer configured
        assert outbox.sinks() == ["new"]
        assert outbox.held() == 0
        later = _event(2)
        outbox.append(later)
        assert _ids(outbox, "new") == [later.id]


def test_dead_letters_are_kept_retried_for_their_sink_only_and_purged(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        outbox.attach(["a", "b"])
        refused = _event(1)
        outbox.append(refused)
        outbox.acknowledge("b", outbox.pending("b")[0].seq)
        outbox.dead_letter("a", outbox.pending("a")[0], "a: HTTP 400")
        assert outbox.held() == 0
        (letter,) = outbox.dead_letters()
        assert (letter.sink, letter.event, letter.error) == ("a", refused, "a: HTTP 400")

        assert outbox.retry([letter.number]) == 1
        assert outbox.dead_letters() == []
        assert _ids(outbox, "a") == [refused.id]
        assert _ids(outbox, "b") == []  # b had it already

        outbox.dead_letter("a", outbox.pending("a")[0], "a: HTTP 400 again")
        with pytest.raises(OutboxError, match="no dead letter 999"):
            outbox.purge_dead([999])
        assert outbox.purge_dead(sink="a") == 1
        assert outbox.dead_letters() == []


def test_purging_pending_events_gives_them_up_for_one_sink(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        outbox.attach(["a", "b"])
        for n in range(4):
            outbox.append(_event(n))
        assert outbox.purge_pending("a") == 4
        assert _ids(outbox, "a") == []
        assert len(_ids(outbox, "b")) == 4
        with pytest.raises(OutboxError, match="no sink 'c'"):
            outbox.purge_pending("c")


def test_the_counts_kept_in_memory_are_the_files_through_any_mix_of_changes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.db"
    filters = {
        "all": type_filter([]),
        "alerts": type_filter(["face.maskless"]),
        "cameras": type_filter(["camera.*"]),
    }
    kinds = ["face.new", "face.maskless", "camera.offline"]
    rng = random.Random(14)
    done: dict[str, int] = dict.fromkeys(["dropped", "retried here", "retried there"], 0)
    # `other`: the `streamwatch outbox` command, another connection to the same file.
    with Outbox(path, max_events=20) as outbox, Outbox(path, max_events=20) as other:
        outbox.attach(list(filters))
        counts = outbox.keep_counts(filters)
        for step in range(600):
            sink = rng.choice(list(filters))
            batch = outbox.pending(sink, limit=rng.randint(1, 6))
            mine = [p for p in batch if p.is_for(sink) and filters[sink](p.event.type)]
            letters = outbox.dead_letters()
            match rng.choices(["append", "ack", "dead", "retry", "purge"], [8, 4, 2, 2, 1])[0]:
                case "append":
                    done["dropped"] -= outbox.counter("dropped_full")
                    outbox.append(_event(step, kind=rng.choice(kinds)))
                    done["dropped"] += outbox.counter("dropped_full")
                case "ack" if batch:
                    outbox.acknowledge(sink, batch[-1].seq)
                case "dead" if mine:
                    outbox.dead_letter(sink, mine[0], f"{sink}: HTTP 400")
                case "retry" if letters:
                    chosen = [rng.choice(letters).number]
                    where = rng.choice(["here", "there"])
                    (outbox if where == "here" else other).retry(chosen)
                    done[f"retried {where}"] += 1
                case "purge":
                    rng.choice([outbox, other]).purge_pending(sink)
            outbox.refresh_counts()  # the dispatcher does, every poll
            assert {name: counts.pending(name) for name in filters} == {
                name: outbox.pending_count(name, accepts) for name, accepts in filters.items()
            }, f"step {step}"
            assert counts.dropped_full == outbox.counter("dropped_full")
    assert min(done.values()) > 5, done  # each kind of change was made


def test_listing_a_missing_outbox_says_so(tmp_path: Path) -> None:
    with pytest.raises(OutboxError, match=r"no outbox at .*has not run"):
        Outbox(tmp_path / "outbox.db", create=False).__enter__()


def test_the_default_state_dir_falls_back_when_not_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not root on a fresh machine: /var/lib/streamwatch cannot be made. A path under a file
    # cannot be made even by root.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable_default = str(blocker / "streamwatch")
    monkeypatch.setattr(state_dir_module, "DEFAULT_STATE_DIR", unwritable_default)
    monkeypatch.delenv("STREAMWATCH_STATE_DIR")
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert resolve_state_dir(unwritable_default) == tmp_path / "xdg" / "streamwatch"

    # Under systemd, its StateDirectory= comes first.
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "systemd"))
    assert resolve_state_dir(unwritable_default) == tmp_path / "systemd"

    # A directory the config names is used as it is, or refused with the fix.
    with pytest.raises(StateDirError, match=r"state_dir: cannot create or write .*a-file/x"):
        resolve_state_dir(str(blocker / "x"))
    assert resolve_state_dir(str(tmp_path / "mine")) == tmp_path / "mine"

    # The environment's override beats everything.
    monkeypatch.setenv("STREAMWATCH_STATE_DIR", str(tmp_path / "override"))
    assert resolve_state_dir(str(tmp_path / "mine")) == tmp_path / "override"


def test_one_process_per_state_dir(tmp_path: Path) -> None:
    held = rf"in use by another streamwatch \(pid {os.getpid()}\)"
    # flock locks belong to an open file: a second open, even in this process, is refused.
    with locked(tmp_path), pytest.raises(StateDirError, match=held), locked(tmp_path):
        pass
    with locked(tmp_path):  # released
        pass


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_a_user_who_is_not_root_keeps_state_at_home(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real default, /var/lib/streamwatch, as `nobody` on this machine: not writable.
    nobody = 65534
    top = Path(tempfile.mkdtemp())
    try:
        top.chmod(0o755)
        home = top / "home"
        home.mkdir()
        os.chown(home, nobody, nobody)
        for variable in ("STREAMWATCH_STATE_DIR", "STATE_DIRECTORY", "XDG_STATE_HOME"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("HOME", str(home))
        child = os.fork()
        if child == 0:  # pragma: no cover - the child reports through its exit status
            status = 2
            try:
                os.setgid(nobody)
                os.setuid(nobody)
                state_dir = resolve_state_dir(DEFAULT_STATE_DIR)
                with locked(state_dir), Outbox(state_dir / "outbox.db") as outbox:
                    outbox.attach(["stdout"])
                    outbox.append(_event(1))
                status = 0 if state_dir == home / ".local" / "state" / "streamwatch" else 1
            finally:
                os._exit(status)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert (home / ".local" / "state" / "streamwatch" / "outbox.db").stat().st_uid == nobody
    finally:
        shutil.rmtree(top)
