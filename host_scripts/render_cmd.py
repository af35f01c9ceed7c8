"""``countertrack export``, ``render`` and ``batch``: bundles in, B tracks out."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

from host_scripts.extras import needs_cluster_extra, needs_train_extra
from host_scripts.options import capped_jobs, finite_float, positive_int, seed
from host_scripts.progress import log, progress, step


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="freeze a trained run and a memory into a bundle",
        description="Write a self-contained bundle (ONNX graphs, codebooks, memory audio + grain table, manifest "
        "with sha256 of every file), after checking ONNX against PyTorch.",
    )
    export.add_argument("run_dir", metavar="RUN", help="a trained run folder (countertrack train)")
    memory = export.add_argument_group("memory (what B is played from)")
    memory.add_argument(
        "--memory",
        nargs="+",
        metavar="AUDIO_OR_CORPUS",
        help="B recordings to play from: files, folders or corpora (default: the run's training B tracks)",
    )
    memory.add_argument("--memory-limit-s", type=float, help="cap the memory's total duration in seconds (default: no cap)")
    output = export.add_argument_group("output (all written at the end, or none)")
    output.add_argument("-o", "--output", required=True, metavar="NAME.ctbundle", help="the bundle folder to write")
    output.add_argument("--zip", action="store_true", help="also write NAME.ctbundle.zip")
    output.add_argument("--force", action="store_true", help="replace an existing bundle (and zip); it stays as it was if the export fails")
    export.set_defaults(run=_export)

    render = commands.add_parser(
        "render",
        help="render B for an A track (a DAW bounce)",
        description="A in, B out: same length, sample rate, channels and bit depth as A, latency compensated.",
    )
    render.add_argument("input", metavar="A", help="the guide track")
    output = render.add_argument_group("output (all written at the end, or none)")
    output.add_argument("-o", "--output", required=True, metavar="OUT", help="B track to write")
    output.add_argument("--mix", metavar="MIX", help="also write A + B (A once, at unity gain, whatever --dry)")
    output.add_argument(
        "--midi-out", metavar="FILE.mid", help="also write the answer as MIDI: the played notes at their pitch, on A's tempo map"
    )
    output.add_argument(
        "--arrangement",
        metavar="FOLDER",
        help="also write the answer as a DAW session folder: FOLDER.dawproject and "
        "FOLDER.rpp with B as one clip per grain (or run of grains) into the "
        "memory's audio, and A as a track",
    )
    output.add_argument("--force", action="store_true", help="overwrite existing outputs")
    add_render_options(render)
    add_tempo_options(render)
    automation = render.add_argument_group("automation")
    automation.add_argument("--automation", metavar="FILE.mid", help="MIDI CC automation of parameters (see --cc; default: none)")
    automation.add_argument(
        "--cc",
        action="append",
        default=[],
        metavar="CC=PARAM:LOW:HIGH",
        help="map a controller to a parameter, e.g. 1=temperature:0.3:2.0 (repeatable; default with --automation: 1=temperature:0.3:2.0)",
    )
    add_sound_options(render)
    render.set_defaults(run=_render)

    batch = commands.add_parser(
        "batch",
        help="render many A tracks in parallel, resumably",
        description="Render every input into DIR, keeping the sub-folders the inputs have below the folder "
        "they share (songs/*/melody.wav -> DIR/<song>/melody.wav). Outputs that exist are "
        "skipped (the batch resumes) unless --force. Bad files are reported and the batch "
        "goes on; a summary JSON is written into DIR.",
    )
    batch.add_argument("inputs", nargs="+", metavar="INPUT", help="A tracks or glob patterns such as 'bounces/*.wav'")
    output = batch.add_argument_group("output")
    output.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the B tracks (created)")
    output.add_argument("--mix", action="store_true", help="also write NAME.mix.EXT: A + B")
    output.add_argument("--midi-out", action="store_true", help="also write NAME.mid: the answer as MIDI notes on A's tempo map")
    output.add_argument(
        "--force", action="store_true", help="render again over outputs that exist (each replaced only when its render succeeds)"
    )
    add_render_options(batch)
    add_tempo_options(batch, one_map="the same map for every input (takes of one song)")
    add_sound_options(batch)
    workers = batch.add_argument_group("workers")
    workers.add_argument(
        "--jobs", type=positive_int, default=2, help="worker processes (at most one per core; with --ray the cluster's CPUs decide)"
    )
    workers.add_argument(
        "--ray",
        metavar="auto|local|ADDRESS",
        help="render on a Ray cluster: 'auto' (the one started here with 'ray start', or $RAY_ADDRESS), 'local' "
        "(a throwaway one on this machine) or HOST:PORT; needs the cluster extra (default: this machine's "
        "worker processes)",
    )
    batch.set_defaults(run=_batch)


def add_render_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bundle and preset")
    group.add_argument("--bundle", help="bundle folder or zip (default: the shipped default bundle)")
    group.add_argument("--preset", help="a preset name (faithful, loose, ambient) or JSON file (default: none, the bundle's settings)")
    group.add_argument("--seed", type=seed, help="random seed, 0..2^63-1 (default: the preset's seed, else 0; a seed given here wins)")


def add_tempo_options(parser: argparse.ArgumentParser, one_map: str = "") -> None:
    group = parser.add_argument_group("tempo (default: estimated from A)")
    group.add_argument("--bpm", type=finite_float, metavar="QPM", help="A's tempo in quarter notes per minute (default: estimated from A)")
    group.add_argument("--beat-offset", type=finite_float, default=0.0, metavar="SECONDS", help="with --bpm: time of A's first beat")
    group.add_argument(
        "--tempo-map",
        metavar="FILE.mid",
        help="A's beats from this MIDI file's tempo map" + (f": {one_map}" if one_map else "") + " (default: --bpm, else estimated from A)",
    )


def add_sound_options(parser: argparse.ArgumentParser) -> None:
    sound = parser.add_argument_group("decision and mix (over the preset's and the bundle's settings)")
    inherited = " (default: the preset's, else the bundle's)"
    sound.add_argument("--temperature", type=finite_float, help="sampling temperature (e.g. 0.7 tighter, 1.4 looser)" + inherited)
    sound.add_argument(
        "--top-p", type=finite_float, help="nucleus: sample among the likeliest tokens holding this probability (0..1]" + inherited
    )
    sound.add_argument("--greedy", action="store_true", help="always the likeliest token (no sampling)")
    sound.add_argument(
        "--harmony", type=finite_float, help="weight of the learnt A/B compatibility in the grain choice (0 = off)" + inherited
    )
    sound.add_argument("--wet", type=finite_float, help="level of B in the output, 0..2" + inherited)
    sound.add_argument("--dry", type=finite_float, help="level of A mixed in, 0..2" + inherited)


def bundle_path(args: argparse.Namespace) -> str:
    from plugin_core.bundle.shipped import default_bundle_path

    return args.bundle or str(default_bundle_path())


@needs_train_extra("export", "torch", "safetensors", "onnx")
def _export(args: argparse.Namespace) -> int:
    from export.onnx.bundle_export import export_bundle, zip_path_of
    from export.train.run import load_run

    folder = export_bundle(
        load_run(args.run_dir),
        args.output,
        memory=args.memory,
        memory_limit_s=args.memory_limit_s,
        make_zip=args.zip,
        force=args.force,
        log=lambda message: print(message, file=sys.stderr),
    )
    print(f"wrote the bundle {folder}")
    if args.zip:
        print(f"wrote {zip_path_of(folder)}")
    return 0


def _render(args: argparse.Namespace) -> int:
    import numpy as np

    from plugin_core.bundle.load import load_bundle
    from plugin_core.errors import UsageError
    from plugin_core.io.audio import probe_audio
    from plugin_core.io.midi_io import parse_cc_mapping, read_automation
    from plugin_core.perception.segmentation import with_tempo
    from plugin_core.render.offline import render_file
    from plugin_core.stream.presets import load_preset

    if args.cc and not args.automation:
        raise UsageError("--cc maps controllers of an --automation MIDI file; give --automation FILE.mid too")
    _check_option_values(args)
    bundle = load_bundle(bundle_path(args))
    step(f"loaded the bundle {bundle_path(args)}")
    preset = load_preset(args.preset) if args.preset else None
    segmentation = with_tempo(bundle.perception.spec.segmentation, args.bpm, args.beat_offset, args.tempo_map)
    step(f"rendering {args.input} (tempo: {_tempo_source(args)})")
    automation = []
    if args.automation:
        mappings = [parse_cc_mapping(text) for text in args.cc] or [parse_cc_mapping("1=temperature:0.3:2.0")]
        automation = read_automation(args.automation, mappings, probe_audio(args.input).sample_rate)
    rendered = render_file(
        bundle,
        args.input,
        args.output,
        seed=args.seed,
        preset=preset,
        segmentation=segmentation,
        mix_path=args.mix,
        midi_path=args.midi_out,
        force=args.force,
        automation=automation,
        inputs=[bundle_path(args), args.preset, args.tempo_map, args.automation],
        arrangement_path=args.arrangement,
        parameters=_parameters_given(args),
    )
    step(f"decided {len(rendered.decisions)} slots over {len(rendered.boundaries) - 1} segments of A")
    peak = float(np.abs(rendered.samples).max()) if rendered.samples.size else 0.0
    if peak > 1.0:  # an integer file clips it; a float one keeps it
        log(
            f"note: B peaks at {20 * np.log10(peak):+.1f} dBFS, over full scale: clipped unless {args.output} is a float file (lower --wet or --dry)"
        )
    laid = rendered.laid
    continued = sum(d.continued for d in laid)
    looks = [d for d in rendered.decisions if d.lead]
    changed = f", {sum(not d.continued for d in looks)} of {len(looks)} changed on hearing A (late look)" if looks else ""
    print(f"wrote {args.output}: {len(laid)} segments, {continued} continuing the memory{changed}")
    if args.mix:
        print(f"wrote {args.mix}: A + B")
    if args.midi_out:
        print(f"wrote {args.midi_out}: the answer as MIDI notes")
    if args.arrangement:
        print(f"wrote the session {args.arrangement} (open its .dawproject or .rpp)")
        if (preset is not None and preset.post) or rendered.levels.dry:
            print("note: the session's B is the grain engine's answer: the preset's effects after it and its dry A are not in it")
    return 0


def _tempo_source(args: argparse.Namespace) -> str:
    if args.bpm is not None:
        return f"{args.bpm:g} bpm"
    return f"the tempo map {args.tempo_map}" if args.tempo_map else "the bundle's grid, beats estimated from A where it cuts on beats"


def _check_option_values(args: argparse.Namespace) -> None:
    """Tempo and parameter values against the runtime's own ranges, before any file is read: a bad one is
    a usage error (exit 2) naming its option, as argparse's own are."""
    from plugin_core.decision.sampling import SamplingConfig
    from plugin_core.engine.grains import EngineConfig
    from plugin_core.errors import ConfigurationError, UsageError
    from plugin_core.perception.segmentation import SegmentationConfig, with_tempo
    from plugin_core.stream.parameters import MIX_NAMES, Parameters
    from plugin_core.stream.presets import mix_levels

    given = (("--bpm", args.bpm is not None), ("--beat-offset", bool(args.beat_offset)), ("--tempo-map", bool(args.tempo_map)))
    tempo = [option for option, present in given if present]
    try:
        with_tempo(SegmentationConfig(strategy="beats"), args.bpm, args.beat_offset, "tempo-map" if args.tempo_map else None)
    except ConfigurationError as exc:
        raise UsageError(f"{'/'.join(tempo)}: {exc.problem}") from None
    for name, value in _parameters_given(args).items():
        try:
            if name in MIX_NAMES:
                mix_levels(parameters={name: value})
            else:
                Parameters(SamplingConfig(), EngineConfig()).changed(**{name: value})
        except ConfigurationError as exc:
            raise UsageError(f"--{name.replace('_', '-')}: {exc.problem}") from None


def _parameters_given(args: argparse.Namespace) -> dict:
    """The parameters named on the command line, by their runtime names (checked where they apply)."""
    given = {name: getattr(args, name) for name in ("temperature", "top_p", "harmony", "wet", "dry") if getattr(args, name) is not None}
    if args.greedy:
        given["greedy"] = True
    return given


def _batch(args: argparse.Namespace) -> int:
    from plugin_core.errors import CountertrackError
    from plugin_core.render.batch import BatchOptions, run_batch

    if args.ray:
        needs_cluster_extra("batch --ray")
    _check_option_values(args)
    inputs: list[Path] = []
    for pattern in args.inputs:
        matches = sorted(glob.glob(pattern, recursive=True)) if any(ch in pattern for ch in "*?[") else [pattern]  # ** : any depth
        if not matches:
            raise CountertrackError("matches no file", pattern)
        inputs += [Path(m) for m in matches]
    options = BatchOptions(
        seed=args.seed,
        preset=args.preset,
        force=args.force,
        mix=args.mix,
        midi=args.midi_out,
        bpm=args.bpm,
        beat_offset=args.beat_offset,
        tempo_map=args.tempo_map,
        parameters=_parameters_given(args),
    )
    bar = progress(range(len(inputs)), "rendering", total=len(inputs))
    ticks = iter(bar)
    finished = [0]

    def tick() -> None:
        next(ticks, None)
        finished[0] += 1
        step(f"batch: {finished[0]} of {len(inputs)} inputs done")

    if args.ray:
        from plugin_core.render.ray_batch import run_batch_ray

        summary = run_batch_ray(inputs, bundle_path(args), Path(args.output), address=args.ray, options=options, on_done=tick)
    else:
        summary = run_batch(inputs, bundle_path(args), Path(args.output), jobs=capped_jobs(args.jobs), options=options, on_done=tick)
    for failure in summary.failed:
        print(
            f"countertrack: failed: {failure['error']}"
            if failure["input"] in failure["error"]
            else f"countertrack: failed: {failure['input']}: {failure['error']}",
            file=sys.stderr,
        )
    for path in summary.written:
        print(f"wrote {path}")
    print(
        f"{len(summary.succeeded)} rendered, {len(summary.skipped)} skipped (already there), {len(summary.failed)} failed; "
        f"wrote the summary {Path(args.output) / 'batch-summary.json'}"
    )
    return 1 if summary.failed else 0
