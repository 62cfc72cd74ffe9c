"""render_clip: a ClipSpec → an MP4 clip in the shared clip encoding, drawn frame by frame.

Frames are drawn at the template's internal size and piped as raw RGB to one ffmpeg
process that converts to BT.709 yuv420p at that size, scales up (bicubic) to the
output size, burns in the captions (ASS, libass) and encodes with
`clip_format.clip_video_args`, so the clip concatenates with every other clip by
stream copy. Python draws frame *n+1* while ffmpeg encodes frame *n*.

The file is written to a hidden temporary name beside ``out_path`` and renamed into
place only when ffmpeg has finished; on any error — or when ``on_progress`` raises
(a cancelled job) — ffmpeg is killed and the temporary file removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from soundstage.media.art.palette import stable_seed
from soundstage.media.video._ffmpeg import MediaError
from soundstage.media.video.clip_format import clip_video_args
from soundstage.media.visuals.colour import clip_palette
from soundstage.media.visuals.drive import make_drive
from soundstage.media.visuals.spec import ClipSpec
from soundstage.media.visuals.templates import TEMPLATE_CLASSES
from soundstage.media.visuals.templates.base import Ctx, Template, internal_size

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_PROGRESS_STEPS = 50  # on_progress is called at most about this many times


def build_template(spec: ClipSpec) -> Template:
    """The template object for ``spec``, set up at its internal size (ValueError if unknown)."""
    cls = TEMPLATE_CLASSES.get(spec.template)
    if cls is None:
        known = ", ".join(sorted(TEMPLATE_CLASSES))
        raise ValueError(f"unknown visual template {spec.template!r} (known: {known})")
    width, height = internal_size(spec.width, spec.height, cls.max_pixels)
    drive = make_drive(spec)
    mean_energy = float(drive.energy.mean()) if drive.n_frames else 0.5
    pal = clip_palette(spec.mood, spec.prompt, spec.seed, mean_energy)
    # Colours follow the seed alone (one palette per song); the composition also
    # follows the clip's place in the song, so clips sharing a seed still differ.
    rng = np.random.default_rng(
        stable_seed("visuals", spec.template, spec.seed, spec.mood, f"{spec.start_s:.3f}")
    )
    return cls(Ctx(spec, width, height, drive, pal, rng))


def iter_frames(spec: ClipSpec) -> Iterator[np.ndarray]:
    """The clip's frames at the template's internal size, (h, w, 3) uint8 each."""
    template = build_template(spec)
    for i in range(spec.n_frames):
        yield template.frame(i)


def render_clip(
    spec: ClipSpec,
    out_path: Path,
    *,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Render ``spec`` with its embedded template into an MP4 at ``out_path``; return it.

    Exactly ``spec.n_frames`` frames of ``spec.width`` x ``spec.height`` at ``spec.fps``,
    captions burnt in, the same bytes of video for the same spec. ``on_progress`` gets
    0..1; if it raises, rendering stops, nothing is left at ``out_path`` and the
    exception propagates. ffmpeg failures raise `MediaError`.
    """
    # Imported here: captions imports visuals.spec, so a module-level import would be circular.
    from soundstage.media.video.captions import subtitles_filter, write_ass

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    template = build_template(spec)
    tmp = out_path.with_name(f".{out_path.name}.{secrets.token_hex(4)}.tmp")
    with contextlib.ExitStack() as stack:
        vf = [
            "scale=out_color_matrix=bt709:out_range=tv:flags=bicubic+accurate_rnd",
            "format=yuv420p",
        ]
        if (template.w, template.h) != (spec.width, spec.height):
            vf.append(f"scale={spec.width}:{spec.height}:flags=bicubic")
        if spec.captions:
            tmp_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="captions-")))
            ass = write_ass(spec.captions, spec.width, spec.height, tmp_dir / "captions.ass")
            vf.append(subtitles_filter(ass))
        # The scale-up runs on yuv420p: planar scaling is several times cheaper than RGB.
        cmd = [
            "ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats",
            "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{template.w}x{template.h}", "-framerate", str(spec.fps),
            "-i", "pipe:0",
            "-vf", ",".join(vf),
            "-frames:v", str(spec.n_frames),
            *clip_video_args(spec.fps),
            "-f", "mp4", str(tmp),
        ]  # fmt: skip
        try:
            _encode(template, spec.n_frames, cmd, on_progress)
            os.replace(tmp, out_path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return out_path


def _encode(
    template: Template,
    n_frames: int,
    cmd: list[str],
    on_progress: Callable[[float], None] | None,
) -> None:
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err
            )
        except FileNotFoundError as exc:
            raise MediaError("ffmpeg is not installed or not on PATH") from exc
        assert proc.stdin is not None
        with contextlib.suppress(OSError):  # a bigger pipe lets drawing run ahead of encoding
            fcntl.fcntl(proc.stdin.fileno(), _F_SETPIPE_SZ, 1 << 20)
        step = max(1, n_frames // _PROGRESS_STEPS)
        try:
            try:
                for i in range(n_frames):
                    proc.stdin.write(memoryview(np.ascontiguousarray(template.frame(i))))
                    if on_progress is not None and ((i + 1) % step == 0 or i + 1 == n_frames):
                        on_progress(0.98 * (i + 1) / n_frames)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # ffmpeg died: its exit status and stderr tell why
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        if code != 0:
            err.seek(0)
            text = err.read().decode("utf-8", "replace").strip().splitlines()
            raise MediaError("\n".join(text[-12:]) or f"ffmpeg exited with status {code}")
    if on_progress is not None:
        on_progress(1.0)
