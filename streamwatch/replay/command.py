"""`streamwatch replay`: its arguments, running it, and the few lines it prints."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from streamwatch.config import Settings, load_settings
from streamwatch.errors import CommandError


def add_replay_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from streamwatch.replay import DEFAULT_PRICE_PER_CALL

    replay = commands.add_parser(
        "replay",
        help="play a recording through the pipeline and write a report of what it would do",
    )
    replay.add_argument("video", help="a video file, or 'demo' (the built-in scene)")
    replay.add_argument("--config", type=Path, help="TOML config (default: the built-in one)")
    replay.add_argument("--camera", help="play it with this camera's settings (default: the first)")
    replay.add_argument(
        "--analyzer",
        choices=["local", "emulator", "ailab"],
        default="local",
        help="who answers the calls: on the device; the emulator through the cloud client; "
        "or the cloud API of the config (billed)",
    )
    replay.add_argument(
        "--report", type=Path, metavar="DIR", help="where to write it (default: replay-NAME)"
    )
    replay.add_argument(
        "--realtime",
        action="store_true",
        help="play at the recording's frame rate on the machine's clock (default: as fast as "
        "it decodes, on the recording's own clock)",
    )
    replay.add_argument("--duration", type=float, metavar="S", help="only the first S seconds")
    replay.add_argument(
        "--truth", type=Path, metavar="FILE", help="who is in view when (JSON): recall, precision"
    )
    replay.add_argument(
        "--price-per-call",
        type=float,
        default=DEFAULT_PRICE_PER_CALL,
        metavar="X",
        help=f"for the cost estimate (default {DEFAULT_PRICE_PER_CALL})",
    )
    replay.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from streamwatch.app.logs import redact_settings_secrets
    from streamwatch.replay.recording import ReplayError
    from streamwatch.replay.report import write_report
    from streamwatch.replay.run import Replayed, ReplayOptions, play
    from streamwatch.replay.truth import load_truth

    settings = Settings() if args.config is None else load_settings(args.config)
    redact_settings_secrets(args.log_handler, settings)
    if args.log_level == "info":
        # The progress bar tells how it goes; lines about parts starting and stopping would
        # only break it.
        logging.getLogger("streamwatch").setLevel(logging.WARNING)
    if args.price_per_call < 0:
        raise CommandError("--price-per-call must not be negative")
    name = Path(args.video).stem if args.video != "demo" else "demo"

    async def replay(options: ReplayOptions) -> Replayed:
        stop = asyncio.Event()  # Ctrl-C: stop, and report what was played so far
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        try:
            return await play(options, stop)
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    try:
        options = ReplayOptions(
            video=args.video,
            settings=settings,
            report_dir=args.report or Path(f"replay-{name}"),
            camera=args.camera,
            analyzer=args.analyzer,
            realtime=args.realtime,
            duration_s=args.duration,
            truth=None if args.truth is None else load_truth(args.truth),
            price_per_call=args.price_per_call,
            config_path=args.config,
            progress=sys.stderr,
        )
        replayed = asyncio.run(replay(options))
        files = write_report(options, replayed, _replay_command(args))
    except ReplayError as error:
        raise CommandError(str(error)) from None
    summary = json.loads(files.summary.read_text(encoding="utf-8"))
    print(_replay_lines(summary, files.page))
    return 0


def _replay_command(args: argparse.Namespace) -> str:
    """The command line that makes this report again."""
    words = ["streamwatch", "replay", args.video, "--analyzer", args.analyzer]
    for flag, value in (
        ("--config", args.config),
        ("--camera", args.camera),
        ("--duration", args.duration),
        ("--truth", args.truth),
        ("--price-per-call", args.price_per_call),
        ("--report", args.report),
    ):
        if value is not None:
            words += [flag, str(value)]
    if args.realtime:
        words.append("--realtime")
    return shlex.join(words)


def _replay_lines(summary: dict[str, Any], page: Path) -> str:
    recording, calls, cost = summary["recording"], summary["calls"], summary["cost"]
    events = summary["events"]
    ratio = calls["vs_poll_1hz"]
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(events["by_type"].items()))
    lines = [
        f"replayed {recording['source']}: {recording['media_s']:.1f} s, {recording['frames']} "
        f"frames ({summary['mode']}, {summary['analyzer']} analyzer)"
        + (" - interrupted" if recording["interrupted"] else ""),
        f"calls: {calls['made']} (a 1 Hz poller: {calls['poll_1hz']}"
        + ("" if ratio is None else f", {ratio:.1%} of it")
        + f"); cost {cost['replay']:g} at {cost['price_per_call']:g} a call",
        f"events: {events['total']}" + (f" ({kinds})" if kinds else ""),
    ]
    truth = summary["truth"]
    if truth is not None:
        scores = {"people": truth["people"], **truth["masks"]}
        lines.append(
            "truth: "
            + "; ".join(
                f"{kind} recall {_percent(score['recall'])}, precision "
                f"{_percent(score['precision'])}"
                for kind, score in scores.items()
            )
        )
    lines.append(f"report: {page}")
    return "\n".join(lines)


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"
