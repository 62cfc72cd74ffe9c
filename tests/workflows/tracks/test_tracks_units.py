"""The pure parts: genre → engine parameters, the style system, covers, preview cutting and
the asked-vs-heard check; and, on SQLite and PostgreSQL, the tables and job status sync."""

from __future__ import annotations

import io

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from soundstage.media.audio import write_wav
from soundstage.media.audio.decode import read_audio
from soundstage.platform.db import Base
from soundstage.workflows.tracks import style as styles
from soundstage.workflows.tracks.cover import render_cover
from soundstage.workflows.tracks.genres import (
    GENRES,
    Reference,
    SteeredMusicRequest,
    TrackSpec,
    default_bpm,
    resolve_spec,
)
from soundstage.workflows.tracks.pipeline import fade, loudest_window, make_preview, verify

SPEC_ARGS = {"prompt": "rain on the window", "duration_s": 30, "seed": 5, "genre_name": "lofi",
             "style_strength": 0.5, "bpm": None, "key": None, "mode": None, "reference": None}  # fmt: skip
REFERENCE = Reference("song1", bpm=123.4, key="D", mode="minor", energy=0.8, loudness_lufs=-7.0)


# -- genres and the engine request --------------------------------------------------------------


def test_genre_defaults_are_deterministic_and_in_range():
    spec = resolve_spec(**SPEC_ARGS)
    lo, hi = GENRES["lofi"].bpm
    assert lo <= spec.bpm <= hi and spec.bpm == default_bpm(GENRES["lofi"], 5)
    assert resolve_spec(**SPEC_ARGS) == spec
    assert spec.mood == "nostalgic" and spec.instruments[0] == "epiano"
    assert "rain" in spec.textures and "vinyl" in spec.textures  # prompt's first, then genre's
    assert spec.target_lufs == -14.0 and spec.steered_by_reference == ()


def test_prompt_instruments_join_the_band_with_one_bass_at_most():
    spec = resolve_spec(**{**SPEC_ARGS, "prompt": "cello and flute by the fire"})
    assert spec.instruments[:2] == ("cello", "flute")
    bass = [i for i in spec.instruments if i in ("cello", "sub_bass")]
    assert bass == ["cello"]  # the genre's sub bass is dropped: cello already plays bass


def test_style_strength_decides_between_prompt_mood_and_genre_mood():
    weak = resolve_spec(**{**SPEC_ARGS, "prompt": "dark stormy night", "style_strength": 0.2})
    strong = resolve_spec(**{**SPEC_ARGS, "prompt": "dark stormy night", "style_strength": 0.8})
    assert weak.mood is None  # the engine reads "dark" from the prompt
    assert strong.mood == "nostalgic"
    assert weak.music_request().style().mood == "dark"


def test_reference_fills_what_the_request_leaves_unset():
    spec = resolve_spec(**{**SPEC_ARGS, "reference": REFERENCE})
    assert (spec.bpm, spec.key, spec.mode) == (123.4, "D", "aeolian")
    assert spec.density == pytest.approx(0.15 + 0.7 * 0.8)
    assert spec.target_lufs == -9.0  # -7 LUFS is clamped to the loudest allowed master
    assert spec.steered_by_reference == ("bpm", "key", "mode", "energy", "loudness")
    explicit = resolve_spec(**{**SPEC_ARGS, "reference": REFERENCE, "bpm": 70, "key": "C"})
    assert (explicit.bpm, explicit.key, explicit.mode) == (70, "C", None)
    assert explicit.steered_by_reference == ("energy", "loudness")


def test_unsure_reference_tempo_and_key_are_left_out():
    from soundstage.media.analysis.analyze import PULSE_WARNING_CONFIDENCE
    from soundstage.workflows.tracks.genres import PULSE_CONFIDENCE_MIN, reference_from_features

    assert PULSE_CONFIDENCE_MIN == PULSE_WARNING_CONFIDENCE  # the analysis' own threshold
    heard = {"bpm": 100.0, "bpm_confidence": 0.9, "key": "E", "mode": "minor",
             "key_confidence": 0.7, "energy": 0.4, "loudness_lufs": -12.0}  # fmt: skip
    sure = reference_from_features("s", heard)
    assert (sure.bpm, sure.key, sure.mode, sure.energy) == (100.0, "E", "minor", 0.4)
    unsure = reference_from_features("s", {**heard, "bpm_confidence": 0.1, "key_confidence": 0.1})
    assert (unsure.bpm, unsure.key, unsure.mode) == (None, None, None)
    assert unsure.loudness_lufs == -12.0


def test_spec_round_trips_through_json():
    spec = resolve_spec(**{**SPEC_ARGS, "reference": REFERENCE})
    assert TrackSpec.from_dict(spec.to_dict()) == spec


def test_style_strength_blends_density_and_brightness():
    def style(strength: float):
        return SteeredMusicRequest("sparse minimal", 30, 1, density_target=0.9,
                                   brightness_target=0.1, strength=strength).style()  # fmt: skip

    base, full, half = style(0.0), style(1.0), style(0.5)
    assert (full.density, full.brightness) == pytest.approx((0.9, 0.1))
    assert half.density == pytest.approx((base.density + 0.9) / 2)
    assert base.density < 0.3  # "sparse minimal" alone


# -- the style system and covers ----------------------------------------------------------------


def test_style_seed_is_a_stable_63_bit_hash_of_the_user_id():
    seed = styles.style_seed_for("user-1")
    assert seed == styles.style_seed_for("user-1") == 7860178596781159459
    assert 0 <= seed < 2**63 and seed != styles.style_seed_for("user-2")


def test_derived_palette_and_geometry_are_deterministic_and_in_range():
    palette, geometry = styles.derive_palette(42), styles.derive_geometry(42)
    assert palette == styles.derive_palette(42) and geometry == styles.derive_geometry(42)
    assert palette != styles.derive_palette(43)
    assert all(0 <= h <= 360 for h in palette["hues"]) and len(palette["hues"]) == 3
    assert styles.LUMINANCE_RANGE[0] <= palette["luminance"] <= styles.LUMINANCE_RANGE[1]
    lo, hi = styles.SHAPE_COUNT_RANGE
    assert lo <= geometry["shape_count"] <= hi


@pytest.mark.parametrize(
    ("done", "unlocked", "upcoming"),
    [
        (0, ["orbits"], "waves"),
        (1, ["orbits", "waves"], "prism"),
        (4, ["orbits", "waves"], "prism"),
        (5, ["orbits", "waves", "prism"], "weave"),
        (10, ["orbits", "waves", "prism", "weave"], "constellation"),
        (25, list(styles.MOTIF_NAMES), None),
    ],
)
def test_unlock_thresholds(done, unlocked, upcoming):
    assert styles.unlocked_motifs(done) == unlocked
    following = styles.next_unlock(done)
    assert (following.name if following else None) == upcoming


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("motif", styles.MOTIF_NAMES)
def test_covers_are_deterministic_and_vary_with_seed_and_style(motif):
    palette, geometry = styles.derive_palette(1), styles.derive_geometry(1)
    first = _png(render_cover(palette, geometry, motif, 7, 256))
    assert _png(render_cover(palette, geometry, motif, 7, 256)) == first
    assert _png(render_cover(palette, geometry, motif, 8, 256)) != first
    warmer = {**palette, "hues": [20.0, 40.0, 200.0]}
    assert _png(render_cover(warmer, geometry, motif, 7, 256)) != first


def test_cover_uses_the_palette_hue():
    geometry = {**styles.derive_geometry(1), "shape_count": 1}
    red = np.asarray(render_cover({"hues": [25.0], "luminance": 0.6, "saturation": 1.0},
                                  geometry, "orbits", 1, 128), dtype=float)  # fmt: skip
    blue = np.asarray(render_cover({"hues": [260.0], "luminance": 0.6, "saturation": 1.0},
                                   geometry, "orbits", 1, 128), dtype=float)  # fmt: skip
    assert red[..., 0].mean() > red[..., 2].mean()
    assert blue[..., 2].mean() > blue[..., 0].mean()


def test_cover_refuses_unknown_motif_and_tiny_size():
    palette, geometry = styles.derive_palette(1), styles.derive_geometry(1)
    with pytest.raises(ValueError, match="unknown motif"):
        render_cover(palette, geometry, "spirals", 1)
    with pytest.raises(ValueError, match="at least 64"):
        render_cover(palette, geometry, "orbits", 1, 32)


# -- preview and verification ------------------------------------------------------------------


def test_preview_is_cut_from_the_loudest_part_with_fades(tmp_path):
    sr = 44100
    t = np.arange(sr * 20) / sr
    quiet, loud = 0.02, 0.5
    level = np.where((t >= 11) & (t < 15), loud, quiet)
    audio = np.stack([level * np.sin(2 * np.pi * 220 * t)] * 2, axis=1).astype(np.float32)
    master = write_wav(tmp_path / "master.wav", audio, sr)
    assert loudest_window(master, 4.0) == pytest.approx(11.0, abs=0.5)

    info = make_preview(master, tmp_path / "preview.mp3", 4.0)
    assert info["start_s"] == pytest.approx(11.0, abs=0.5) and info["duration_s"] == 4.0
    clip = read_audio(tmp_path / "preview.mp3")
    assert abs(len(clip) / sr - 4.0) < 0.1
    edge = int(0.05 * sr)
    middle = np.abs(clip[len(clip) // 2 - edge : len(clip) // 2 + edge]).max()
    assert np.abs(clip[:edge]).max() < 0.1 * middle  # faded in
    assert np.abs(clip[-edge:]).max() < 0.1 * middle  # faded out

    whole = make_preview(master, tmp_path / "long.mp3", 60.0)
    assert whole == {"start_s": 0.0, "duration_s": 20.0}  # shorter than asked: all of it


def test_fade_shapes_the_ends_only():
    audio = np.ones((1000, 2), dtype=np.float32)
    out = fade(audio, 1000, 0.1, 0.2)
    assert out[0, 0] == 0 and out[-1, 0] == pytest.approx(0, abs=1e-6)
    assert np.all(out[300:700] == 1)
    assert np.all(audio == 1)  # the input is left alone


def test_verify_compares_tempo_key_and_major_minor():
    heard = {"bpm": 97.5, "key": "A#", "mode": "major", "bpm_confidence": 0.9,
             "key_confidence": 0.8}  # fmt: skip
    check = verify(96.0, "Bb", "ionian", heard)
    assert check["tempo_match"] and check["key_match"] and not check["tempo_octave"]
    assert verify(96.0, "Bb", "aeolian", heard)["key_match"] is False
    octave = verify(96.0, "Bb", "ionian", {**heard, "bpm": 48.2})
    assert not octave["tempo_match"] and octave["tempo_octave"]


# -- tables and the job status sync (SQLite and PostgreSQL) --------------------------------------


def test_models_match_the_migration(db):
    import soundstage.workflows

    soundstage.workflows.import_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = {"tracks", "series", "style_profiles"}
    assert [d for d in diff if any(name in str(d) for name in ours)] == []


def test_job_moves_without_the_handler_update_the_track_and_refund(db, settings):
    from soundstage.platform import billing
    from soundstage.platform.accounts.models import User
    from soundstage.platform.jobs import cancel_job, retry_job, transition
    from soundstage.workflows.ambient.models import Track
    from soundstage.workflows.tracks import service
    from soundstage.workflows.tracks.pipeline import register_jobs
    from soundstage.workflows.tracks.schemas import TrackCreate

    register_jobs()
    billing.install_job_rules()
    with db.session() as session:
        user = User(email="sync@example.com", password_hash="x")
        session.add(user)
        session.flush()
        billing.open_account(session, user.id, settings)
        body = TrackCreate(prompt="warm keys", duration_s=40)
        track, job = service.create_track(session, settings, user.id, body)
        session.commit()
        assert billing.balance(session, user.id) == 398

        cancel_job(session, job)  # cancelled while queued: the handler never runs
        session.commit()
        row = session.get(Track, track.id, populate_existing=True)
        assert row.status == "cancelled" and billing.balance(session, user.id) == 400

        second, job2 = service.create_track(session, settings, user.id, body)
        session.commit()
        job2.state = "running"  # as if a runner had claimed it
        job2.error = "interrupted by a restart after 3 attempt(s)"
        transition(session, job2, "failed", job2.error)
        session.commit()
        row = session.get(Track, second.id, populate_existing=True)
        assert (row.status, row.error) == ("failed", job2.error)
        assert billing.balance(session, user.id) == 400

        retry_job(session, job2)  # charged again, and the track waits in the queue again
        session.commit()
        row = session.get(Track, second.id, populate_existing=True)
        assert row.status == "queued" and row.error is None
        assert billing.balance(session, user.id) == 398


def test_default_series_and_profile_are_created_once(db):
    from soundstage.platform.accounts.models import User
    from soundstage.workflows.tracks import service
    from soundstage.workflows.tracks.models import Series, StyleProfile

    with db.session() as session:
        user = User(email="once@example.com", password_hash="x")
        session.add(user)
        session.commit()
        first = service.ensure_default_series(session, user.id)
        again = service.ensure_default_series(session, user.id)
        session.commit()
        assert first.id == again.id
        assert session.query(Series).filter_by(owner_id=user.id).count() == 1
        profile = session.get(StyleProfile, user.id)
        assert profile.style_seed == styles.style_seed_for(user.id)
