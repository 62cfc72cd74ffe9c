"""Errors raised by the audio engine."""


class AudioError(RuntimeError):
    """Base class for audio engine failures."""


class AudioDecodeError(AudioError):
    """A file could not be probed or decoded (missing, corrupt or not audio)."""


class AudioEncodeError(AudioError):
    """FFmpeg failed to encode, or the encoded file could not be published."""


def stderr_tail(text: str | bytes, lines: int = 12) -> str:
    """The last few lines of an FFmpeg stderr dump, for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    tail = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(tail)
