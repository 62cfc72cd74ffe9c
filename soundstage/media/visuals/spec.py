"""What one music-video clip must show: the contract between the workflow, the embedded
visual engine and video providers (Replicate...).

A clip covers ``[start_s, start_s + n_frames / fps)`` of the song. Clip edges sit on
the frame grid (and, inside a song, on beats), so clips concatenated in order tile the
song frame-exactly. Times in `beats`, `downbeats` and `captions` are seconds from the
*clip's* first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ASPECTS: dict[str, tuple[int, int]] = {"16:9": (1920, 1080), "9:16": (1080, 1920)}


@dataclass(frozen=True)
class Caption:
    start: float  # seconds from the clip's first frame
    end: float
    text: str


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render (or request) one clip, JSON-friendly and deterministic."""

    width: int
    height: int
    fps: int
    n_frames: int
    start_s: float  # where the clip starts in the song
    template: str  # embedded visual template name (providers may ignore it)
    prompt: str  # full text prompt: overall prompt + section label/note (for providers)
    seed: int
    mood: str = "calm"  # analysis mood_primary, picks the palette
    mood_vector: dict[str, float] = field(default_factory=dict)
    energy: tuple[float, ...] = ()  # 0..1, one value per frame (motion and intensity)
    beats: tuple[float, ...] = ()  # clip-relative seconds
    downbeats: tuple[float, ...] = ()  # clip-relative seconds, a subset of beats
    captions: tuple[Caption, ...] = ()  # lyric lines to burn in, clip-relative
    section_label: str = ""  # intro / verse / chorus... (intensity hint)
    first_in_section: bool = False  # the clip opens a section: a stronger entry transition

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.width % 2 or self.height % 2:
            raise ValueError("width and height must be positive even numbers")
        if self.fps <= 0 or self.n_frames <= 0:
            raise ValueError("fps and n_frames must be positive")
        if self.energy and len(self.energy) != self.n_frames:
            raise ValueError("energy needs exactly one value per frame")
