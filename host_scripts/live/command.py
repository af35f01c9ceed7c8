"""``countertrack live``: A from a JACK input, B to a JACK output, in real time.

Checks everything it can before it starts (arguments, the server, the ports to connect, the MIDI
port), then plays until Ctrl-C, SIGTERM or ``--duration``, and reports what happened: blocks played,
xruns, and the audio callback's time as a share of a block. The chain is threaded, so the callback
only copies blocks; parameters arrive from MIDI CC on mido's thread.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import TYPE_CHECKING

from host_scripts.extras import needs_live_extra
from host_scripts.render_cmd import add_render_options, bundle_path
from plugin_core.errors import CountertrackError, InternalError
from plugin_core.io.stopping import Terminated, stop_handled

if TYPE_CHECKING:
    from host_scripts.live.bridge import BlockBridge
    from host_scripts.live.jack import JackAudio
    from host_scripts.live.midi import ControlInput

DEFAULT_CC = "1=temperature:0.3:2.0"
START_TIMEOUT_S = 10.0  # JACK calls an active client within a few periods; longer means the server is stuck
SWITCH_INTERVAL_S = 0.0005  # how soon another Python thread must hand the GIL to the audio callback


def register(commands: argparse._SubParsersAction) -> None:
    live = commands.add_parser(
        "live",
        help="answer a live input: A from JACK, B to JACK, parameters from MIDI CC",
        description="Play B live: A comes in on JACK input ports, B goes out on JACK output ports, "
        "latency_samples later (printed at start). Runs until Ctrl-C or SIGTERM (exit 0) or --duration.",
    )
    add_render_options(live)
    tempo = live.add_argument_group("tempo")
    tempo.add_argument(
        "--bpm", type=float, metavar="QPM", help="A's tempo in quarter notes per minute (default: none; a beat bundle needs it live)"
    )
    tempo.add_argument(
        "--beat-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="with --bpm: time of A's first beat after the start of the stream (default 0)",
    )
    audio = live.add_argument_group("audio (JACK)")
    audio.add_argument("--channels", type=int, default=1, help="audio channels of A and B (default 1: ports in_1 and out_1)")
    audio.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="PORT",
        help="connect this JACK output port (e.g. system:capture_1) to in_1, the next to in_2, ... (default: none, connect them later)",
    )
    audio.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="PORT",
        help="connect out_1 to this JACK input port (e.g. system:playback_1), the next to out_2, ... (default: none, connect them later)",
    )
    audio.add_argument("--name", default="countertrack", help="JACK client name (default countertrack)")
    audio.add_argument("--server", metavar="NAME", help="JACK server name (default: $JACK_DEFAULT_SERVER, else 'default')")
    control = live.add_argument_group("control (MIDI CC in real time)")
    control.add_argument("--midi-in", metavar="PORT", help="MIDI input port for --cc control changes (as mido lists it; default: none)")
    control.add_argument("--midi-api", choices=("jack", "alsa"), help="MIDI system of --midi-in (default: mido's, or $MIDO_BACKEND)")
    control.add_argument(
        "--cc",
        action="append",
        default=[],
        metavar="CC=PARAM:LOW:HIGH",
        help=f"map a controller of --midi-in to a parameter (repeatable; default {DEFAULT_CC})",
    )
    session = live.add_argument_group("session")
    session.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds (default: run until stopped)")
    live.set_defaults(run=_live)


def _check_arguments(args: argparse.Namespace) -> list:
    """Everything that needs no server: one line for the first problem. Returns the CC mappings."""
    from plugin_core.io.midi_io import parse_cc_mapping

    if not 1 <= args.channels <= 8:
        raise CountertrackError(f"--channels {args.channels} is out of range 1..8")
    for flag, ports in (("--input", args.input), ("--output", args.output)):
        if len(ports) > args.channels:
            raise CountertrackError(f"{len(ports)} {flag} ports for {args.channels} channel(s)")
    if args.duration is not None and not args.duration > 0:
        raise CountertrackError(f"--duration {args.duration} must be more than 0 seconds")
    if args.bpm is not None and not 20.0 <= args.bpm <= 400.0:
        raise CountertrackError(f"--bpm {args.bpm} is out of range 20..400")
    if args.cc and not args.midi_in:
        raise CountertrackError("--cc maps controllers of a MIDI input: give --midi-in PORT")
    if args.midi_api and not args.midi_in:
        raise CountertrackError("--midi-api is the system of --midi-in: give --midi-in PORT")
    return [parse_cc_mapping(text) for text in args.cc or [DEFAULT_CC]] if args.midi_in else []


@needs_live_extra("live")
def _live(args: argparse.Namespace) -> int:
    from host_scripts.live.bridge import BlockBridge
    from host_scripts.live.jack import JackAudio
    from host_scripts.live.midi import ControlInput
    from host_scripts.live.priority import make_realtime
    from plugin_core.bundle.load import load_bundle
    from plugin_core.stream.chain import AnswerChain
    from plugin_core.stream.presets import load_preset
    from plugin_core.stream.threaded import ThreadedSidechain

    mappings = _check_arguments(args)
    audio = JackAudio(args.name, args.server)  # first, so that no server fails before the bundle loads
    chain = controls = None
    try:
        audio.check_ports(args.input, outputs=True)
        audio.check_ports(args.output, outputs=False)
        preset = load_preset(args.preset) if args.preset else None
        chain = AnswerChain(
            load_bundle(bundle_path(args), threads=1),
            sample_rate=audio.sample_rate,
            channels=args.channels,
            preset=preset,
            seed=args.seed,
            threaded=True,
            bpm=args.bpm,
            beat_offset_s=args.beat_offset,
        )
        if args.midi_in:
            controls = ControlInput(mappings, chain.set_parameters)
            controls.open(args.midi_in, args.midi_api)
        bridge = BlockBridge(chain, args.channels, audio.sample_rate)
        effect = chain.effect
        if not isinstance(effect, ThreadedSidechain):
            raise InternalError("live runs the chain with its worker thread")
        worker = make_realtime(effect.worker_thread_id)
        gc.collect()
        gc.freeze()  # what is alive now is never scanned again: collections stay short while playing
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        audio.start(args.channels, bridge, connect_from=args.input, connect_to=args.output)
        if not audio.started.wait(START_TIMEOUT_S):
            raise CountertrackError(f"the JACK server did not run countertrack's callback within {START_TIMEOUT_S:.0f} s")
        _print_start(args, audio, bridge, chain.latency_samples, worker)
        stopped_by = _play(args, audio, bridge)
    finally:
        audio.close()
        if controls is not None:
            controls.close()
        if chain is not None and isinstance(chain.effect, ThreadedSidechain):
            chain.effect.close()
    _print_report(stopped_by, audio, bridge, controls)
    return 0


def _ports(names: list[str], connected: list[str], word: str) -> str:
    return ", ".join(f"{name} ({word} {other})" if other else name for name, other in zip(names, connected + [""] * len(names)))


def _print_start(args: argparse.Namespace, audio: JackAudio, bridge: BlockBridge, latency_samples: int, worker: str) -> None:
    rate = audio.sample_rate
    print(
        f"countertrack live: A into {_ports(audio.input_names, args.input, 'from')}, B out of {_ports(audio.output_names, args.output, 'to')}; "
        f"{rate} Hz, {audio.block_size}-sample blocks",
        flush=True,
    )
    print(
        f"latency: {latency_samples} samples ({latency_samples / rate:.3f} s): B answers A's sample n at sample n + {latency_samples}",
        flush=True,
    )
    print(f"stream started at JACK frame {bridge.start_frame}; the chain's worker thread runs at {worker}", flush=True)
    if args.midi_in:
        print(f"MIDI CC from {args.midi_in}: " + ", ".join(args.cc or [DEFAULT_CC]), flush=True)
    print("playing; Ctrl-C stops" + (f" (or after {args.duration:g} s)" if args.duration else ""), flush=True)


def _play(args: argparse.Namespace, audio: JackAudio, bridge: BlockBridge) -> str:
    """Wait (the callback plays) until a stop; returns what stopped it, raises what failed."""
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        while deadline is None or time.monotonic() < deadline:
            if bridge.failed.is_set():
                raise CountertrackError(f"the audio callback failed: {bridge.error}")
            if audio.shut_down.is_set():
                raise CountertrackError(f"the JACK server stopped: {audio.shutdown_reason}")
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (raised as Terminated): the normal way to stop
        stop_handled()
        return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
    return "--duration"


def _print_report(stopped_by: str, audio: JackAudio, bridge: BlockBridge, controls: ControlInput | None) -> None:
    block_ms = 1000.0 * audio.block_size / audio.sample_rate
    print(
        f"stopped ({stopped_by}) after {bridge.samples / audio.sample_rate:.1f} s of audio, {bridge.blocks} blocks: "
        f"{audio.xruns} xruns ({bridge.frames_filled} frames skipped by the server heard as silence, "
        f"{bridge.blocks_repeated} repeated blocks played as silence); callback p50 {bridge.percentile_share(50):.0%}, p99 {bridge.percentile_share(99):.0%}, "
        f"max {bridge.max_share:.0%} of a {block_ms:.2f} ms block",
        flush=True,
    )
    if controls is not None:
        print(f"MIDI: {controls.summary()}", flush=True)
