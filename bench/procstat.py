"""CPU time, memory and threads of a running process, read from /proc; py-spy's view of them.

For the benchmarks that run streamwatch as a separate process (bench/pipeline_scale.py,
bench/latency.py). CPU is counted in clock ticks of user + system time, so a figure over a
window is "% of one core" whatever else runs on the machine. Python threads carry no OS name
before Python 3.14 (they are all "python" in /proc), so their names are asked of py-spy
(`py-spy dump`) and native threads keep theirs (FFmpeg's decoders are "av:h264:df0", …).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _ticks(stat_path: Path) -> tuple[str, int]:
    """(comm, utime + stime) of one /proc/…/stat; comm may hold spaces and parentheses."""
    text = stat_path.read_text()
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return comm, int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)


def process_ticks(pid: int) -> int:
    """CPU ticks the process has used (all its threads, living and ended)."""
    return _ticks(Path(f"/proc/{pid}/stat"))[1]


def thread_ticks(pid: int) -> dict[int, tuple[str, int]]:
    """{thread id: (OS thread name, CPU ticks)} of the threads alive now."""
    threads = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            threads[int(task.name)] = _ticks(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended while we looked
    return threads


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise ValueError(f"no VmRSS for {pid}")


def py_spy() -> str | None:
    """py-spy's path, or None when it is not installed (pip install py-spy)."""
    return shutil.which("py-spy")


def python_thread_names(pid: int) -> dict[int, str]:
    """{OS thread id: Python thread name}, from py-spy; empty without py-spy."""
    tool = py_spy()
    if tool is None:
        return {}
    dump = subprocess.run(
        [tool, "dump", "--pid", str(pid), "--json", "--nonblocking"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if dump.returncode != 0:
        return {}
    return {
        int(thread["os_thread_id"]): str(thread["thread_name"])
        for thread in json.loads(dump.stdout)
        if thread.get("os_thread_id") is not None and thread.get("thread_name")
    }


def thread_group(os_name: str, python_name: str | None) -> str:
    """What a thread does, by its name: the figures are summed per group."""
    if python_name is None:
        if os_name.startswith("av:"):
            return "ffmpeg decoder threads"
        return "native threads (OpenCV's pool, …)"
    if python_name == "MainThread":
        return "event loop"
    if python_name.startswith("capture-"):
        return "capture (reader threads)"
    if python_name.startswith("asyncio_"):
        return "to_thread workers"
    # One group per kind of thread: "sink jsonl:/path" and "outbox-2" by their kind.
    return re.sub(r"[-_ ]?\d+$", "", python_name.split(":", 1)[0])


@dataclass(frozen=True)
class CpuSample:
    """One look at a process: when, its ticks, and its threads' ticks."""

    monotonic_s: float
    ticks: int
    threads: dict[int, tuple[str, int]]


def cpu_by_group(first: CpuSample, last: CpuSample, names: dict[int, str]) -> dict[str, float]:
    """% of a core per thread group between two samples (threads born between count whole)."""
    window_s = last.monotonic_s - first.monotonic_s
    used: Counter[str] = Counter()
    for tid, (os_name, ticks) in last.threads.items():
        before = first.threads.get(tid, (os_name, 0))[1]
        used[thread_group(os_name, names.get(tid))] += ticks - before
    return {
        group: round(100 * ticks / TICKS_PER_S / window_s, 1)
        for group, ticks in used.most_common()
        if ticks > 0
    }


def top_functions(raw_profile: Path, per_thread: int = 8) -> dict[str, object]:
    """The functions most often on top of the stack per thread group, from `py-spy record
    --threads --format raw` (collapsed stacks: "thread (TID): NAME;frame;…;frame COUNT").

    Per group: its share of all samples, then its top functions by own samples ("self", the
    frame on top) and streamwatch's functions by samples under them ("total"), as shares of
    the group's samples.
    """
    own: dict[str, Counter[str]] = {}
    total: dict[str, Counter[str]] = {}
    samples: Counter[str] = Counter()
    for line in raw_profile.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        head = frames[0]  # "thread (TID): NAME" or "thread (TID)"
        python_name = head.split(": ", 1)[1] if ": " in head else None
        group = thread_group("python", python_name)
        count = int(count_text)
        samples[group] += count
        # "name (file.py:123)" → "name (file.py)": one entry per function, not per line.
        functions = [re.sub(r":\d+\)$", ")", frame) for frame in frames[1:]]
        if functions:
            own.setdefault(group, Counter())[functions[-1]] += count
        for function in set(functions):
            if "streamwatch/" in function:  # not the threads' and the loop's own frames
                total.setdefault(group, Counter())[function] += count
    all_samples = sum(samples.values()) or 1
    return {
        group: {
            "share_of_samples": round(count / all_samples, 3),
            "self": {
                f: round(n / count, 3) for f, n in own.get(group, Counter()).most_common(per_thread)
            },
            "total": {
                f: round(n / count, 3)
                for f, n in total.get(group, Counter()).most_common(per_thread)
            },
        }
        for group, count in samples.most_common()
    }
