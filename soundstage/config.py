"""One Settings object for the whole studio, read from `SOUNDSTAGE_*` variables and `.env`.

Media engines never import this module: doors and workflows read settings and pass
explicit parameters down.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
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

    job_workers: int = Field(
        1, ge=1, description="Job threads: in the server process, or per `soundstage worker`"
    )
    job_max_attempts: int = Field(3, ge=1)
    job_retry_base_s: float = Field(2.0, ge=0)

    # Scale-out (docs/scale-out.md): with a broker, `soundstage serve` only enqueues and
    # `soundstage worker` processes (Celery) run the jobs, on any number of machines.
    broker_url: str | None = Field(
        None, description="Celery broker: redis://host:6379/0 or amqp://user:pass@host//"
    )
    job_lease_s: float = Field(
        60.0, ge=2, description="A worker renews its job's lease every third of this; a lease "
        "that runs out (the worker died) puts the job back in the queue",
    )  # fmt: skip
    db_pool_size: int = Field(5, ge=1, description="PostgreSQL connections kept per process")
    db_max_overflow: int = Field(10, ge=0, description="Extra connections allowed under load")
    db_pool_timeout_s: float = Field(30.0, gt=0, description="Wait for a free connection")
    db_pool_recycle_s: int = Field(-1, description="Reconnect after this many seconds (-1 never)")
    job_redispatch_s: float = Field(
        300.0, ge=1, description="Queued jobs waiting longer than this are sent to the broker "
        "again (a message lost with a crashed API process or broker)",
    )  # fmt: skip

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
    video_clip_jobs: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Clips as separate jobs that any worker runs, then composition once they "
        "have all ended (fan-out and fan-in); auto: when a broker is configured",
    )
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

    # Accounts and limits (soundstage.platform.accounts, ratelimit, quotas): API tokens, rate
    # limits (in-process token buckets: a burst, then a steady rate) and the storage quota.
    api_tokens_max_per_user: int = Field(
        50, ge=1, description="Unrevoked, unexpired API tokens a user may hold at once"
    )
    api_token_max_days: int = Field(
        3650, ge=1, description="Longest lifetime (expires_in_days) a new API token may ask for"
    )
    rate_limit_enabled: bool = Field(True, description="False turns every rate limit off")
    rate_limit_ip_per_minute: float = Field(
        1200, gt=0, description="Steady /api/ requests per minute per client IP"
    )
    rate_limit_ip_burst: int = Field(
        300, ge=1, description="/api/ requests a client IP may make at once before the rate"
    )
    rate_limit_auth_per_minute: float = Field(
        20, gt=0, description="Steady login, register and refresh attempts per minute per IP"
    )
    rate_limit_auth_burst: int = Field(
        60, ge=1, description="Login, register and refresh attempts per IP at once"
    )
    rate_limit_jobs_per_minute: float = Field(
        30, gt=0, description="Steady job-creating requests per minute per user"
    )
    rate_limit_jobs_burst: int = Field(
        60, ge=1, description="Job-creating requests a user may make at once"
    )
    user_storage_quota_bytes: int = Field(
        10 * 1024**3, ge=1, description="Bytes of files one user may keep (uploads past it: 413)"
    )

    # Billing (soundstage.platform.billing, seed 004): credits, pricing, free tier, Stripe.
    trial_credits: int = Field(400, ge=0, description="Credits granted once when an account opens")
    trial_days: int = Field(30, ge=0, description="Length of the trial period, in days")
    free_daily_tracks: int = Field(
        5, ge=0, description="Paid jobs a free-plan user may start a day"
    )
    free_max_duration_s: float = Field(
        60.0, gt=0, description="Longest track a free-plan user may request, in seconds"
    )
    model_cost_per_min_usd: Decimal = Field(
        Decimal("0.15"), ge=0, description="Model inference cost per minute of audio, USD"
    )
    infra_cost_per_min_usd: Decimal = Field(
        Decimal("0.05"), ge=0, description="Infrastructure cost per minute of audio, USD"
    )
    overhead_per_min_usd: Decimal = Field(
        Decimal("0.02"), ge=0, description="Overhead cost per minute of audio, USD"
    )
    margin_cap: Decimal = Field(
        Decimal("0.12"), ge=0, le=1, description="Largest margin added on top of cost (0.12 = 12%)"
    )
    ppp_multipliers: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "HIGH": Decimal("1.00"),
            "UMID": Decimal("0.90"),
            "LMID": Decimal("0.80"),
            "LOW": Decimal("0.70"),
        },
        description="Price multiplier per purchasing-power band (HIGH, UMID, LMID, LOW)",
    )
    solidarity_multiplier: Decimal = Field(
        Decimal("0.85"), gt=0, le=1, description="Price multiplier for users who opt in"
    )
    credit_packs: list[int] = Field(
        default_factory=lambda: [300, 700, 2000], description="Credit pack sizes for sale"
    )
    currency: str = Field("usd", description="ISO currency of prices and Stripe payments")
    stripe_secret_key: SecretStr | None = Field(
        None, description="Enables Stripe Checkout (sk_...)"
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None, description="Verifies POST /api/webhooks/stripe (whsec_...)"
    )
    stripe_api_base: str = Field("https://api.stripe.com", description="Stripe API address")
    stripe_timeout_s: float = Field(30.0, gt=0, description="Timeout of one Stripe API request")
    public_url: str | None = Field(
        None, description="Public base URL (https://studio.example.com) for links sent out"
    )

    @field_validator("ppp_multipliers")
    @classmethod
    def _every_band_priced(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        """Billing: one positive multiplier for each of HIGH, UMID, LMID and LOW."""
        missing = {"HIGH", "UMID", "LMID", "LOW"} - set(value)
        if missing:
            raise ValueError(f"ppp_multipliers lacks {', '.join(sorted(missing))}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("ppp_multipliers must all be positive")
        return value

    @field_validator("credit_packs")
    @classmethod
    def _packs_positive(cls, value: list[int]) -> list[int]:
        """Billing: at least one pack, each of at least one credit."""
        if not value or any(p <= 0 for p in value):
            raise ValueError("credit_packs must list positive pack sizes")
        return sorted(set(value))

    # Governance (soundstage.platform.policy and costs, seed 003; docs/governance.md): content
    # rules for prompts, lyrics and scripts, moderation, cost estimates and budgets in USD.
    content_policy_enabled: bool = Field(
        True, description="Screen prompts, lyrics and scripts with the content rules"
    )
    content_rules_path: Path | None = Field(
        None, description="JSON file that adds, replaces or disables content rule categories"
    )
    moderation_provider: Literal["rules", "openai"] = Field(
        "rules",
        description="rules: the embedded rules only; openai: jobs also wait in `moderating` "
        "for OpenAI's moderation endpoint (needs SOUNDSTAGE_OPENAI_API_KEY)",
    )
    openai_moderation_model: str = Field(
        "omni-moderation-latest", description="Model of POST /v1/moderations"
    )
    job_budget_usd: Decimal | None = Field(
        Decimal("5"),
        ge=0,
        description="Most one job may cost in USD: estimates above it are refused (402), "
        "running jobs whose costs pass it are stopped; null for no limit",
    )
    user_daily_budget_usd: Decimal | None = Field(
        Decimal("20"),
        ge=0,
        description="Most a user's jobs may cost per UTC day in USD (429 until midnight); "
        "null for no limit",
    )

    @field_validator("job_budget_usd", "user_daily_budget_usd", mode="before")
    @classmethod
    def _budget_off(cls, value: object) -> object:
        """SOUNDSTAGE_JOB_BUDGET_USD=none (or null, off, empty) means no limit."""
        if isinstance(value, str) and value.strip().lower() in {"", "none", "null", "off"}:
            return None
        return value

    # Track platform (soundstage.workflows.tracks, seed 004; docs/tracks.md): previews, covers
    # and series. Track durations (5-600 s), BPM (40-220) and lyrics (5000 chars) are API limits.
    track_preview_s: float = Field(
        30.0, gt=0, le=120, description="Length of a track's preview clip, in seconds"
    )
    track_cover_size_px: int = Field(
        1024, ge=256, le=4096, description="Side of a track's square cover, in pixels"
    )
    track_series_max: int = Field(50, ge=1, description="Series a user may keep at once")

    # Storage (soundstage.platform.storage; docs/storage.md): files live in data_dir/files
    # unless SOUNDSTAGE_STORAGE_URL names another folder (file:///path) or an S3-compatible
    # bucket (s3://bucket/prefix); the s3_* settings apply to S3 only.
    storage_url: str | None = Field(
        None,
        description="Where files live: unset for data_dir/files, file:///path for another "
        "folder, s3://bucket/prefix for S3-compatible object storage",
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 API address (MinIO, Ceph, R2...); AWS S3 when unset"
    )
    s3_public_endpoint_url: str | None = Field(
        None, description="S3 address put in presigned links, when browsers reach it elsewhere"
    )
    s3_region: str = Field("us-east-1", description="Region of the bucket (signs requests)")
    s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", description="Bucket in the URL path or in the host name; auto lets boto3 choose"
    )
    s3_access_key_id: str | None = Field(
        None, description="Access key; boto3's usual chain (env, profile, role) when unset"
    )
    s3_secret_access_key: SecretStr | None = Field(None, description="Secret of the access key")
    s3_multipart_threshold_bytes: int = Field(
        16 * 1024**2, ge=1, description="Uploads from this size on go up in parts, in parallel"
    )
    s3_multipart_chunk_bytes: int = Field(
        16 * 1024**2, ge=5 * 1024**2, le=5 * 1024**3, description="Size of one upload part"
    )
    s3_serve: Literal["stream", "redirect"] = Field(
        "stream",
        description="File responses: stream through the app (Range supported) or redirect "
        "(307) to a short-lived presigned URL",
    )
    s3_presign_ttl_s: int = Field(
        300, ge=1, le=7 * 24 * 3600, description="Lifetime of the presigned URLs of redirects"
    )
    s3_presigned_links: bool = Field(
        True,
        description="Signed download links are presigned S3 URLs; false: app links "
        "(/api/files/...) streamed through the app",
    )
    s3_cache_dir: Path | None = Field(
        None, description="Read-through cache of S3 files handed to FFmpeg; data_dir/s3-cache"
    )
    s3_cache_max_bytes: int = Field(
        2 * 1024**3, ge=0, description="Cache size; least recently used files go beyond it"
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
