"""One Settings object for the whole studio, read from `SOUNDSTAGE_*` variables and `.env`.

Media engines never import this module: doors and workflows read settings and pass
explicit parameters down.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SOUNDFONT_CANDIDATES = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOUNDSTAGE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("data"), description="Folder for the database, files and temp work")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; SQLite in data_dir if unset"
    )
    secret_key: str | None = Field(
        None, description="Signs tokens; generated into data_dir if unset"
    )

    host: str = "127.0.0.1"
    port: int = 8000

    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 7 * 24 * 3600
    allow_registration: bool = Field(True, description="False for a single-user install")
    signed_link_ttl_s: int = 3600

    job_workers: int = Field(1, ge=1, description="Embedded runner threads in the server process")
    job_max_attempts: int = Field(3, ge=1)
    job_retry_base_s: float = Field(2.0, ge=0)

    soundfont: Path | None = Field(
        None, description="General-MIDI SoundFont; auto-detected if unset"
    )
    mp3_quality: int = Field(5, ge=0, le=9, description="LAME algorithm quality, 0 best, 9 fastest")

    ambient_min_duration_s: float = 30.0
    ambient_max_duration_s: float = 3 * 3600.0
    batch_max_items: int = 50

    song_max_upload_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest song upload, in bytes (413 beyond)"
    )
    song_max_duration_s: float = Field(600.0, gt=0, description="Longest song accepted, in seconds")

    # Music video (seed 001): every user limit is a setting.
    video_max_song_duration_s: float = Field(
        300.0, gt=0, description="Longest song a music video can be made for, in seconds"
    )
    video_max_per_user: int = Field(20, ge=1, description="Videos a user may keep at once")
    video_storage_quota_bytes: int = Field(
        5 * 1024**3, ge=1, description="Bytes of videos and clips a user may keep"
    )
    video_fps: int = Field(30, ge=12, le=60, description="Frame rate of music videos")
    video_clip_min_s: float = Field(3.0, gt=0, description="Shortest planned clip")
    video_clip_max_s: float = Field(10.0, gt=0, description="Longest planned clip")
    video_clip_workers: int = Field(2, ge=1, description="Clips generated in parallel per job")
    video_regenerations: int = Field(
        1, ge=0, description="Regenerations allowed per section and per clip"
    )
    video_max_sections: int = Field(24, ge=1, description="Most sections per song")
    video_provider: str | None = Field(
        None,
        description="Preferred video provider (embedded, replicate); first configured if unset",
    )

    # Cloud providers (soundstage.providers): used only when their keys are set.
    openai_api_key: str | None = Field(None, description="Enables the OpenAI providers")
    openai_base_url: str = "https://api.openai.com/v1"
    replicate_api_token: str | None = Field(None, description="Enables the Replicate providers")
    replicate_base_url: str = "https://api.replicate.com/v1"
    replicate_video_model: str = Field(
        "wan-video/wan-2.2-t2v-fast", description="Replicate text-to-video model (owner/name)"
    )
    replicate_video_version: str | None = Field(
        None, description="Pin a model version id (sent to POST /predictions)"
    )
    replicate_video_input: dict = Field(
        default_factory=dict,
        description="JSON object merged into every video prediction's input (null drops a key)",
    )
    replicate_poll_interval_s: float = Field(2.0, gt=0, description="Seconds between polls")
    replicate_timeout_s: float = Field(
        900.0, gt=0, description="Longest wait for one clip before it is canceled"
    )
    replicate_usd_per_second: float = Field(
        0.0014, ge=0, description="Estimated USD per second of prediction (GPU) time"
    )
    replicate_rate_per_min: float = Field(
        60.0, gt=0, description="Predictions created per minute (Replicate allows 600)"
    )
    provider_timeout_s: float = Field(60, gt=0, description="Per-request timeout for providers")
    provider_max_retries: int = Field(
        3, ge=0, description="Retries on 429, 5xx and connection errors"
    )
    transcription_provider: str | None = Field(
        None, description="Preferred transcription provider; first configured if unset"
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'soundstage.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip()

    def resolved_soundfont(self) -> Path | None:
        if self.soundfont:
            return self.soundfont
        for candidate in SOUNDFONT_CANDIDATES:
            if candidate.exists():
                return candidate
        return fallback_soundfont()


def fallback_soundfont() -> Path | None:
    """pretty_midi's small GM SoundFont, when that package is installed."""
    try:
        import pretty_midi

        path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        return path if path.exists() else None
    except ImportError:
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()
