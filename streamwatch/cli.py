"""The `streamwatch` command: run, check, outbox, analyze, emulate, replay."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streamwatch import __version__
from streamwatch.analysis.model import FaceAnalysis
from streamwatch.app.logs import configure_logging, redaction
from streamwatch.config import ConfigError, Settings, load_settings
from streamwatch.config.secrets import config_secrets
from streamwatch.errors import CommandError
from streamwatch.replay.command import add_replay_parser

if TYPE_CHECKING:
    pass

EXIT_USAGE = 2
# What a shell reports for a program killed by SIGPIPE (128 + 13): `… | head` stopped reading.
EXIT_BROKEN_PIPE = 141
DEFAULT_EMULATOR_KEY_ENV = "STREAMWATCH_EMULATOR_KEY"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.log_handler = configure_logging(args.log_level, stream=sys.stderr)
    # What the command prints goes through the log's redaction too: every config it reads
    # registers its secrets there first (_settings), even one that failed to load.
    args.redaction = redaction(args.log_handler)
    try:
        result: int = args.handler(args)
        sys.stdout.flush()  # a reader that left (`| head`) shows here, not in the exit's flush
        return result
    except ConfigError as error:
        args.redaction.add(error.secrets)
        print(args.redaction.mask(str(error)), file=sys.stderr)
        return EXIT_USAGE
    except CommandError as error:
        print(args.redaction.mask(f"streamwatch: {error}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of the output left (`streamwatch outbox list | head`): nobody is there to
        # tell. Point stdout at /dev/null so the interpreter's last flush is quiet too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamwatch",
        description="Watch cameras for faces; deliver face and mask events.",
    )
    parser.add_argument("--version", action="version", version=f"streamwatch {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the cameras of a config (default: the demo)")
    run.add_argument("--config", type=Path, help="TOML config (default: the embedded demo)")
    run.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    run.add_argument("--window", action="store_true", help="also show a native overlay window")
    run.set_defaults(handler=_run)

    check = commands.add_parser("check", help="validate a config file")
    check.add_argument("config", type=Path)
    check.set_defaults(handler=_check)

    _add_outbox_parser(commands)
    add_replay_parser(commands)

    analyze = commands.add_parser("analyze", help="print the faces of one image")
    analyze.add_argument("image", type=Path)
    analyze.add_argument("--config", type=Path, help="use this config's analyzer")
    analyze.add_argument("--json", action="store_true", help="print the API-shaped JSON")
    analyze.set_defaults(handler=_analyze)

    emulate = commands.add_parser(
        "emulate", help="serve the Face Analyzer API contract from the local analyzer"
    )
    emulate.add_argument("--host", default="127.0.0.1")
    emulate.add_argument("--port", type=int, default=8700)
    emulate.add_argument(
        "--api-key-env",
        default=DEFAULT_EMULATOR_KEY_ENV,
        help="environment variable holding the key callers must send (unset: any key)",
    )
    emulate.add_argument(
        "--analyzer",
        choices=["local", "geometric"],
        default="local",
        help="who finds the faces: the on-device detector, or magenta marks (tests, benchmarks)",
    )
    faults = emulate.add_argument_group("fault injection (for tests and demos)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="add this to every answer")
    faults.add_argument(
        "--latency-jitter-ms", type=float, default=0.0, help="plus a random delay up to this"
    )
    faults.add_argument(
        "--error-rate",
        action="append",
        default=[],
        metavar="STATUS=RATE",
        help="answer this share of requests with the status's documented error, e.g. 503=0.1 "
        "(repeatable; 400 401 403 404 422 429 500 502 503 504)",
    )
    faults.add_argument(
        "--malformed-rate", type=float, default=0.0, help="share of HTTP 200 bodies cut short"
    )
    faults.add_argument(
        "--slow-body-rate", type=float, default=0.0, help="share of bodies trickled slowly"
    )
    faults.add_argument(
        "--slow-body-s", type=float, default=2.0, help="how long a slow body takes (seconds)"
    )
    faults.add_argument(
        "--reset-rate", type=float, default=0.0, help="share of connections reset, no answer"
    )
    faults.add_argument(
        "--fault-script",
        default="",
        metavar="F,F,…",
        help="the first requests' faults in order: ok, a status, malformed, slow_body, reset",
    )
    faults.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    emulate.set_defaults(handler=_emulate)
    return parser


def _settings(args: argparse.Namespace, path: Path | None) -> Settings:
    """The config at `path` (None: the embedded default), its secrets registered with the
    log redaction before anything is logged or printed; those of a config that fails to load
    too, before its error is (a SIGHUP's, say, which the daemon logs)."""
    if path is None:
        return Settings()
    try:
        settings = load_settings(path)
    except ConfigError as error:
        args.redaction.add(error.secrets)
        raise
    args.redaction.add(config_secrets(settings))
    return settings


def _run(args: argparse.Namespace) -> int:
    from streamwatch.app.memory import limit_malloc_arenas

    limit_malloc_arenas()  # before the cameras' threads start
    from streamwatch.app.daemon import run

    def load() -> Settings:
        settings = _settings(args, args.config)
        if args.window:
            overlay = settings.overlay.model_copy(update={"window": True})
            settings = settings.model_copy(update={"overlay": overlay})
        return settings

    settings = load()
    if args.duration is not None and args.duration <= 0:
        raise CommandError("--duration must be a positive number of seconds")
    from streamwatch.capture.health import CamerasGone
    from streamwatch.delivery import OutboxError, StateDirError
    from streamwatch.serving import CannotServe

    try:
        reload_config = load if args.config is not None else None
        asyncio.run(run(settings, duration_s=args.duration, reload_config=reload_config))
    except (StateDirError, OutboxError, CamerasGone, CannotServe) as error:
        raise CommandError(str(error)) from None
    return 0


def _check(args: argparse.Namespace) -> int:
    from streamwatch.camera_url import redact
    from streamwatch.capture.preflight import source_problems

    settings = _settings(args, args.config)
    # Beyond the model: the files it names (a running daemon waits for them instead).
    problems = source_problems(settings)
    if problems:
        raise ConfigError(str(args.config), problems, config_secrets(settings))

    cameras = ", ".join(f"{c.name} ({redact(c.source)})" for c in settings.cameras)
    line = (
        f"{args.config}: ok — {len(settings.cameras)} camera(s): {cameras}; "
        f"analyzer {settings.analyzer.kind}; {len(settings.sinks)} sink(s)"
    )
    print(args.redaction.mask(line))
    return 0


def _add_outbox_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", type=Path, help="the config streamwatch runs with")
    chosen = argparse.ArgumentParser(add_help=False)
    chosen.add_argument("numbers", type=int, nargs="*", metavar="N", help="dead letters by #")
    chosen.add_argument("--all", action="store_true", help="every one (of --sink)")
    chosen.add_argument("--sink", help="only this sink's (its name as `list` shows it)")

    outbox = commands.add_parser(
        "outbox", help="list, retry or purge the events waiting for delivery and the dead letters"
    )
    actions = outbox.add_subparsers(dest="action", required=True)
    actions.add_parser(
        "list", parents=[config], help="events pending per sink, and the dead letters"
    )
    actions.add_parser(
        "retry", parents=[config, chosen], help="queue dead letters again for their sink"
    )
    purge = actions.add_parser(
        "purge", parents=[config, chosen], help="delete dead letters, or give up pending events"
    )
    what = purge.add_mutually_exclusive_group(required=True)
    what.add_argument("--dead", action="store_true", help="delete dead letters")
    what.add_argument("--pending", action="store_true", help="give up undelivered events")
    outbox.set_defaults(handler=_outbox, numbers=[], all=False, sink=None, pending=False)


def _outbox(args: argparse.Namespace) -> int:
    from streamwatch.delivery import Outbox, OutboxError, StateDirError, outbox_path
    from streamwatch.delivery.admin import describe

    settings = _settings(args, args.config)
    if args.action != "list" and not (args.all or args.numbers or args.pending):
        raise CommandError(f"outbox {args.action}: name dead letters by their # or use --all")
    numbers = args.numbers or None
    try:
        path = outbox_path(settings)
        with Outbox(path, max_events=settings.outbox.max_events, create=False) as outbox:
            if args.action == "list":
                print(args.redaction.mask(describe(outbox, settings)))
            elif args.action == "retry":
                count = outbox.retry(numbers, sink=args.sink)
                print(
                    f"{count} dead letter(s) queued again: a running streamwatch sends them "
                    "within a second, otherwise the next one to start"
                )
            elif args.pending:
                if numbers:
                    raise CommandError("outbox purge --pending takes --sink NAME or --all")
                count = outbox.purge_pending(args.sink)
                print(f"{count} pending event(s) given up")
            else:
                print(f"{outbox.purge_dead(numbers, sink=args.sink)} dead letter(s) deleted")
    except (OutboxError, StateDirError) as error:
        raise CommandError(str(error)) from None
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from streamwatch.analysis.analyzer import AnalyzerError
    from streamwatch.analysis.command import face_table, read_image
    from streamwatch.analysis.configured import build_analyzer
    from streamwatch.analysis.wire import to_data

    image = read_image(args.image)
    settings = _settings(args, args.config)

    async def analyze() -> FaceAnalysis:
        async with build_analyzer(settings) as analyzer:
            return await analyzer.analyze(image)

    try:
        analysis = asyncio.run(analyze())
    except AnalyzerError as error:
        raise CommandError(f"{args.image}: {error}") from None
    if args.json:
        print(json.dumps(to_data(analysis), indent=2))
    else:
        print(face_table(analysis))
    return 0


def _emulate(args: argparse.Namespace) -> int:
    from streamwatch.analysis.analyzer import Analyzer
    from streamwatch.analysis.emulator import serve_emulator
    from streamwatch.analysis.faults import Faults, parse_error_rate

    api_key = os.environ.get(args.api_key_env)
    try:
        error_rates = dict(parse_error_rate(text) for text in args.error_rate)
        faults = Faults(
            latency_s=args.latency_ms / 1000,
            latency_jitter_s=args.latency_jitter_ms / 1000,
            error_rates=error_rates,
            malformed_rate=args.malformed_rate,
            slow_body_rate=args.slow_body_rate,
            slow_body_s=args.slow_body_s,
            reset_rate=args.reset_rate,
            script=tuple(word.strip() for word in args.fault_script.split(",") if word.strip()),
            seed=args.seed,
        )
    except ValueError as error:
        raise CommandError(f"emulate: {error}") from None

    analyzer: Analyzer
    if args.analyzer == "geometric":
        from streamwatch.analysis.geometric import GeometricAnalyzer

        analyzer = GeometricAnalyzer()
    else:
        from streamwatch.analysis.local import LocalAnalyzer

        analyzer = LocalAnalyzer()

    async def serve() -> None:
        async with (
            analyzer,
            serve_emulator(
                analyzer, host=args.host, port=args.port, api_key=api_key, faults=faults
            ) as url,
        ):
            logging.getLogger("streamwatch.emulator").info(
                "emulating the Face Analyzer API at %s (%s analyzer, %s; faults: %s)",
                url,
                analyzer.name,
                "key required" if api_key else "any key accepted",
                faults.describe(),
            )
            await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except OSError as error:  # the port is taken, say
        raise CommandError(f"emulate: cannot serve on {args.host}:{args.port}: {error}") from None
    return 0
