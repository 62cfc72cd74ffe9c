"""Running ffmpeg/ffprobe: errors that say what went wrong, progress, clean cancellation."""

from __future__ import annotations

import math
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from fractions import Fraction

ProgressFn = Callable[[float], None]


class MediaError(RuntimeError):
    """ffmpeg or ffprobe refused the input or failed; the message carries its own words."""


def _tail(text: str, lines: int = 12) -> str:
    kept = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


def run_probe(args: Sequence[str]) -> str:
    """Run ffprobe and return its stdout; raise MediaError with its stderr on failure."""
    try:
        done = subprocess.run(["ffprobe", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise MediaError("ffprobe is not installed or not on PATH") from exc
    if done.returncode != 0:
        raise MediaError(_tail(done.stderr) or f"ffprobe exited with status {done.returncode}")
    return done.stdout


def run_ffmpeg(
    args: Sequence[str],
    *,
    duration_s: float | None = None,
    on_progress: ProgressFn | None = None,
) -> None:
    """Run ``ffmpeg <args>``, reporting output time / ``duration_s`` as 0..1.

    If ``on_progress`` raises (a cancelled job), ffmpeg is killed and the
    exception propagates; any other failure raises MediaError.
    """
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats"]
    if on_progress is not None and duration_s:
        cmd += ["-progress", "pipe:1"]
    cmd += list(args)
    with tempfile.TemporaryFile(mode="w+") as err:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        except FileNotFoundError as exc:
            raise MediaError("ffmpeg is not installed or not on PATH") from exc
        try:
            _follow(proc, duration_s, on_progress)
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            err.seek(0)
            raise MediaError(_tail(err.read()) or f"ffmpeg exited with status {code}")


def _follow(
    proc: subprocess.Popen[str], duration_s: float | None, on_progress: ProgressFn | None
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if on_progress is None or not duration_s:
            continue
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            on_progress(min(1.0, max(0.0, int(value) / 1e6 / duration_s)))


def frame_rate(text: object) -> Fraction | None:
    """An ffprobe rate such as ``30000/1001`` as an exact fraction; None when absent or 0."""
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def finite_number(text: object) -> float | None:
    """An ffprobe number (``"12.5"``, ``"N/A"``...) as a finite float, else None."""
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) else None
