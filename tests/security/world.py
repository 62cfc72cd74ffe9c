"""Two users who own one of every resource, and what the route sweeps need to call every route.

`build_world(client, make_user)` registers users A and B (each with a JWT and an API
token) and gives each one of every resource kind. `FACTORIES` maps each path (or body)
parameter name to the resource kind it names: a route whose path has a parameter
missing from this table makes the sweep fail, so no route is ever skipped. A name
shared by two workflows (`track_id`: ambient tracks and platform tracks) names all
their rows; the sweep tries each.

Rows are written straight to the database (no job runs: every job is inserted in a
terminal state), except where the API is the cheap, stable way (API tokens).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from soundstage.platform.jobs.models import Job
from tests.conftest import ApiUser


@dataclass
class Party:
    """A user, its credentials and the ids of what it owns, by resource kind."""

    api: ApiUser
    api_token: str
    owned: dict[str, list[str]] = field(default_factory=dict)

    @property
    def jwt(self) -> dict[str, str]:
        return self.api.headers

    @property
    def token(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    def all_ids(self) -> set[str]:
        return {i for ids in self.owned.values() for i in ids} | {self.api.id}


@dataclass
class World:
    client: Any
    a: Party
    b: Party
    share_token: str  # A's music video share link (public by design)


# -- factories: each adds one resource of its kind for `owner` and returns its ids ------


def _song(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.songs.models import Song, SongStatus

    song = Song(owner_id=owner, filename="a.wav", content_type="audio/wav", format="wav",
                codec="pcm_s16le", duration_s=30.0, sample_rate=22050, channels=1,
                size_bytes=10, original_key=f"users/{owner}/songs/x/original.wav",
                status=SongStatus.ANALYZED, bpm=120.0, key="C", mode="major")  # fmt: skip
    session.add(song)
    session.flush()
    return [song.id]


def _job(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    job = Job(type="songs.analyze", owner_id=owner, state="completed", payload={},
              progress=100.0, stage="done")  # fmt: skip
    session.add(job)
    session.flush()
    return [job.id]


def _section(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.music_video.models import VideoSection

    section = VideoSection(song_id=ids["song"][0], owner_id=owner, index=0, label="verse",
                           start_s=0.0, end_s=10.0)  # fmt: skip
    session.add(section)
    session.flush()
    return [section.id]


def _video(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.music_video.models import MusicVideo, VideoStatus

    video = MusicVideo(song_id=ids["song"][0], owner_id=owner, title="Night drive",
                       video_type="drift", aspect="16:9", width=640, height=360, fps=30,
                       prompt="neon city", seed=1, status=VideoStatus.READY,
                       share_token=secrets.token_urlsafe(24), job_id=ids["job"][0],
                       video_key=f"users/{owner}/songs/{ids['song'][0]}/video.mp4",
                       duration_s=30.0)  # fmt: skip
    session.add(video)
    session.flush()
    return [video.id]


def _clip(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.music_video.models import VideoClip

    clip = VideoClip(song_id=ids["song"][0], section_id=ids["section"][0], owner_id=owner,
                     index=0, index_in_section=0, start_frame=0, n_frames=90, fps=30,
                     prompt="neon city, verse", status="completed")  # fmt: skip
    session.add(clip)
    session.flush()
    return [clip.id]


def _ambient_track(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.ambient.models import Track, TrackStatus

    track = Track(owner_id=owner, title="Ocean", prompt="ocean at night", duration_s=60.0,
                  seed=1, status=TrackStatus.READY, generate_job_id=ids["job"][0])  # fmt: skip
    session.add(track)
    session.flush()
    return [track.id]


def _batch(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.ambient.models import Batch

    batch = Batch(owner_id=owner)
    session.add(batch)
    session.flush()
    return [batch.id]


def _series(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    from soundstage.workflows.tracks.models import Series

    series = Series(owner_id=owner, name="Nocturnes", is_default=False, motif="waves",
                    palette={"hues": [200.0, 260.0], "luminance": 0.5, "saturation": 0.6},
                    geometry={"stroke_width": 2.0, "rotation": 0.0, "gradient_angle": 45.0,
                              "shape_count": 6})  # fmt: skip
    session.add(series)
    session.flush()
    return [series.id]


def _platform_track(session: Session, owner: str, ids: dict[str, list[str]]) -> list[str]:
    """A track of the track platform (a `tracks` row of kind "song"), private."""
    from soundstage.workflows.ambient.models import Track, TrackStatus

    track = Track(owner_id=owner, kind="song", title="Dawn", prompt="slow dawn", genre="ambient",
                  duration_s=30.0, seed=1, style_strength=0.5, series_id=ids["series"][0],
                  status=TrackStatus.READY, credits_required=1, public=False,
                  generate_job_id=ids["job"][0])  # fmt: skip
    session.add(track)
    session.flush()
    return [track.id]


# Resource kinds in creation order (later kinds use earlier ones' ids).
KINDS: list[tuple[str, Callable[[Session, str, dict[str, list[str]]], list[str]]]] = [
    ("song", _song),
    ("job", _job),
    ("section", _section),
    ("video", _video),
    ("clip", _clip),
    ("ambient_track", _ambient_track),
    ("batch", _batch),
    ("series", _series),
    ("platform_track", _platform_track),
]

# Parameter name (in a path, or a body field naming a resource) → the kinds it can name.
FACTORIES: dict[str, tuple[str, ...]] = {
    "song_id": ("song",),
    "job_id": ("job",),
    "section_id": ("section",),
    "video_id": ("video",),
    "clip_id": ("clip",),
    "track_id": ("ambient_track", "platform_track"),
    "batch_id": ("batch",),
    "series_id": ("series",),
    "reference_song_id": ("song",),
    "token_id": ("api_token",),
    "user_id": ("user",),
}


def _make_party(client, api: ApiUser, token_name: str) -> Party:
    r = client.post("/api/tokens", json={"name": token_name}, headers=api.headers)
    assert r.status_code == 201, r.text
    party = Party(api=api, api_token=r.json()["token"])
    party.owned["api_token"] = [r.json()["id"]]
    party.owned["user"] = [api.id]
    with client.app.state.db.session() as session:
        for kind, make in KINDS:
            party.owned[kind] = make(session, api.id, party.owned)
        session.commit()
    return party


def build_world(client, make_user) -> World:
    a = _make_party(client, make_user(email="alice@example.com"), "alice script")
    b = _make_party(client, make_user(email="bob@example.com"), "bob script")
    from soundstage.workflows.music_video.models import MusicVideo

    with client.app.state.db.session() as session:
        share = session.get(MusicVideo, a.owned["video"][0]).share_token
    return World(client=client, a=a, b=b, share_token=share)


# -- request building from the OpenAPI schema ---------------------------------------------


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any], name: str = "") -> Any:
    """A small valid value for `schema`: its default or example, else the simplest in range."""
    schema = resolve(spec, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if resolve(spec, s).get("type") != "null"]
            return example(spec, options[0], name) if options else None
    if "allOf" in schema:
        return example(spec, schema["allOf"][0], name)
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: example(spec, props[k], k) for k in schema.get("required", [])}
    if kind == "array":
        return [example(spec, schema.get("items", {}), name)] * schema.get("minItems", 0)
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    return "x" * max(1, schema.get("minLength", 1))


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """The lowest allowed value (1 when unbounded), nudged above an exclusive minimum."""
    if "minimum" in schema:
        value = schema["minimum"]
    elif "exclusiveMinimum" in schema:
        value = schema["exclusiveMinimum"] + (1 if integer else 0.5)
    else:
        value = 1
    for key in ("maximum", "exclusiveMaximum"):
        if key in schema and value >= schema[key]:
            value = schema[key] - (0 if key == "maximum" else 1 if integer else 0.5)
    return int(value) if integer else float(value)


def body_schema(operation: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    content = operation.get("requestBody", {}).get("content", {})
    for media, spec in content.items():
        return media, spec.get("schema", {})
    return None, None


def id_fields(spec: dict[str, Any], schema: dict[str, Any] | None) -> list[str]:
    """Top-level body fields that name a resource (`*_id`)."""
    if not schema:
        return []
    props = resolve(spec, schema).get("properties", {})
    return [name for name in props if name.endswith("_id")]
