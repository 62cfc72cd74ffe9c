"""Series, the style seed and unlocks, reference steering, listing, and isolation between users."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from soundstage.platform.db import utcnow
from soundstage.workflows.ambient.models import Track, TrackStatus
from soundstage.workflows.tracks.style import style_seed_for
from tests.workflows.tracks.conftest import counts, create_track, make_track

pytestmark = pytest.mark.timeout(600)


def add_complete_tracks(client, owner_id: str, count: int) -> None:
    """Completed track rows straight in the database (no job runs): for unlock counts."""
    with client.app.state.db.session() as session:
        for i in range(count):
            session.add(Track(
                owner_id=owner_id, kind="song", title=f"t{i}", prompt="p", genre="ambient",
                duration_s=5, seed=i, style_strength=0.5, status=TrackStatus.READY,
                credits_required=1, completed_at=utcnow(),
            ))  # fmt: skip
        session.commit()


# -- series ---------------------------------------------------------------------------------


def test_default_series_is_created_once_and_cannot_be_deleted(client, user):
    first = client.get("/api/series", headers=user.headers).json()
    again = client.get("/api/series", headers=user.headers).json()
    assert len(first) == 1 and first == again
    default = first[0]
    assert default["is_default"] and default["motif"] == "orbits"
    r = client.delete(f"/api/series/{default['id']}", headers=user.headers)
    assert r.status_code == 409 and "default series cannot be deleted" in r.json()["detail"]


def test_series_crud_merges_partial_updates_and_moves_tracks_on_delete(client, user):
    r = client.post("/api/series", json={"name": "Blue hour"}, headers=user.headers)
    assert r.status_code == 201, r.text
    series = r.json()
    assert series["motif"] == "orbits" and len(series["palette"]["hues"]) == 3
    assert client.post("/api/series", json={"name": "Blue hour"},
                       headers=user.headers).status_code == 409  # fmt: skip

    patch = {"name": "Blue hour II", "palette": {"saturation": 0.2},
             "geometry": {"shape_count": 7}}  # fmt: skip
    r = client.patch(f"/api/series/{series['id']}", json=patch, headers=user.headers)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["name"] == "Blue hour II"
    assert updated["palette"] == {**series["palette"], "saturation": 0.2}
    assert updated["geometry"] == {**series["geometry"], "shape_count": 7}

    track = create_track(client, user, series_id=series["id"]).json()
    r = client.delete(f"/api/series/{series['id']}", headers=user.headers)
    assert r.status_code == 204
    assert client.get(f"/api/series/{series['id']}", headers=user.headers).status_code == 404
    default = client.get("/api/series", headers=user.headers).json()[0]
    moved = client.get(f"/api/tracks/{track['track_id']}", headers=user.headers).json()
    assert moved["series_id"] == default["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "palette": {"hues": [400], "luminance": 0.5, "saturation": 0.5}},
        {"name": "x", "palette": {"hues": [], "luminance": 0.5, "saturation": 0.5}},
        {"name": "x", "palette": {"hues": [10], "luminance": 0.95, "saturation": 0.5}},
        {"name": "x", "palette": {"hues": [10], "luminance": 0.5, "saturation": 1.5}},
        {
            "name": "x",
            "geometry": {"stroke_width": 0.1, "rotation": 0, "gradient_angle": 0, "shape_count": 3},
        },
        {
            "name": "x",
            "geometry": {"stroke_width": 2, "rotation": 361, "gradient_angle": 0, "shape_count": 3},
        },
        {
            "name": "x",
            "geometry": {"stroke_width": 2, "rotation": 0, "gradient_angle": 0, "shape_count": 65},
        },
        {"name": ""},
        {"name": "x", "motif": "spirals"},
    ],
)
def test_series_style_ranges_are_validated(client, user, body):
    r = client.post("/api/series", json=body, headers=user.headers)
    assert r.status_code == 422, r.text
    assert [s["name"] for s in client.get("/api/series", headers=user.headers).json()] == [
        "Default"
    ]


def test_series_preview_png_with_unsaved_overrides(client, user):
    default = client.get("/api/series", headers=user.headers).json()[0]
    url = default["preview_url"]
    r = client.get(url, headers=user.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (512, 512)
    assert client.get(url, headers=user.headers).content == r.content  # deterministic
    changed = client.get(url, params={"hues": "10,40", "motif": "weave", "size": 128},
                         headers=user.headers)  # fmt: skip
    assert changed.status_code == 200
    assert Image.open(io.BytesIO(changed.content)).size == (128, 128)
    for bad in ({"hues": "red"}, {"hues": "500"}, {"shape_count": 0}, {"luminance": 2}):
        assert client.get(url, params=bad, headers=user.headers).status_code == 422, bad


# -- style seed and unlocks -------------------------------------------------------------------


def test_style_seed_is_stable_per_user_and_differs_between_users(client, user, make_user):
    first = client.get("/api/style", headers=user.headers).json()
    assert first == client.get("/api/style", headers=user.headers).json()
    assert first["style_seed"] == style_seed_for(user.id)
    other = client.get("/api/style", headers=make_user().headers).json()
    assert other["style_seed"] != first["style_seed"]
    assert first["unlocks"] == ["orbits"] and first["completed_tracks"] == 0
    assert first["next_unlock"]["name"] == "waves" and first["tracks_to_next_unlock"] == 1


def test_unlocks_follow_completed_tracks_and_gate_motifs(client, user):
    r = client.post("/api/series", json={"name": "Glass", "motif": "prism"}, headers=user.headers)
    assert r.status_code == 403
    assert "after 5 completed tracks; you have 0" in r.json()["detail"]

    add_complete_tracks(client, user.id, 5)
    style = client.get("/api/style", headers=user.headers).json()
    assert style["unlocks"] == ["orbits", "waves", "prism"]
    assert style["next_unlock"]["name"] == "weave" and style["tracks_to_next_unlock"] == 5
    r = client.post("/api/series", json={"name": "Glass", "motif": "prism"}, headers=user.headers)
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/series/{r.json()['id']}", json={"motif": "weave"},
                     headers=user.headers)  # fmt: skip
    assert r.status_code == 403

    add_complete_tracks(client, user.id, 20)
    style = client.get("/api/style", headers=user.headers).json()
    assert style["unlocks"] == ["orbits", "waves", "prism", "weave", "constellation"]
    assert style["next_unlock"] is None and style["tracks_to_next_unlock"] is None
    # An unlock, once earned, stays when tracks are deleted.
    with client.app.state.db.session() as session:
        for row in session.query(Track).filter_by(owner_id=user.id):
            session.delete(row)
        session.commit()
    assert len(client.get("/api/style", headers=user.headers).json()["unlocks"]) == 5


# -- reference steering -----------------------------------------------------------------------


def test_reference_song_steers_unset_tempo_key_energy_and_loudness(
    client, user, reference_wav, upload_song
):
    song = upload_song(user, reference_wav)
    analysis = client.get(f"/api/songs/{song['id']}/analysis", headers=user.headers).json()
    assert analysis["bpm"] == pytest.approx(96, rel=0.03)  # the reference has a clear pulse

    r = create_track(client, user, reference_song_id=song["id"], genre="piano")
    assert r.status_code == 201, r.text
    track = client.get(f"/api/tracks/{r.json()['track_id']}", headers=user.headers).json()
    assert track["bpm"] == round(analysis["bpm"], 1)
    assert (track["key"], track["mode"]) == (analysis["key"], analysis["mode"])
    assert set(track["reference"]["used"]) == {"bpm", "key", "mode", "energy", "loudness"}
    spec = track["spec"]
    assert spec["density"] == pytest.approx(0.15 + 0.7 * analysis["energy"], abs=1e-3)
    assert spec["target_lufs"] == pytest.approx(min(-9, max(-20, analysis["loudness_lufs"])))

    # Explicit values win over the reference.
    r = create_track(client, user, reference_song_id=song["id"], bpm=120, key="C", mode="major")
    track = client.get(f"/api/tracks/{r.json()['track_id']}", headers=user.headers).json()
    assert (track["bpm"], track["key"], track["mode"]) == (120, "C", "major")
    assert set(track["reference"]["used"]) == {"energy", "loudness"}


def test_reference_must_be_analysed_and_your_own(client, user, make_user, reference_wav,
                                                 upload_song):  # fmt: skip
    raw = upload_song(user, reference_wav, analyse=False)
    r = create_track(client, user, reference_song_id=raw["id"])
    assert r.status_code == 409 and "not analysed yet" in r.json()["detail"]
    other = make_user()
    r = create_track(client, other, reference_song_id=raw["id"])
    assert r.status_code == 404 and r.json()["detail"] == "song not found"
    assert counts(client, user) == (0, 0) and counts(client, other) == (0, 0)


# -- listing and isolation --------------------------------------------------------------------


def test_list_is_paginated_and_filtered(client, user, make_user):
    series = client.post("/api/series", json={"name": "Side"}, headers=user.headers).json()
    ids = [create_track(client, user, prompt=f"piece {i} rain", genre=g, series_id=s).json()
           for i, (g, s) in enumerate([("lofi", None), ("piano", series["id"]),
                                       ("piano", None)])]  # fmt: skip
    create_track(client, make_user())  # a stranger's track is never listed

    def listed(**params) -> list[str]:
        r = client.get("/api/tracks", params=params, headers=user.headers)
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["items"]]

    assert listed() == [t["track_id"] for t in reversed(ids)]
    assert listed(genre="piano") == [ids[2]["track_id"], ids[1]["track_id"]]
    assert listed(series_id=series["id"]) == [ids[1]["track_id"]]
    assert listed(q="piece 0") == [ids[0]["track_id"]]
    assert listed(public=True) == []
    page = client.get("/api/tracks", params={"page_size": 2, "page": 2}, headers=user.headers)
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 1
    assert client.get("/api/tracks", params={"genre": "rock"},
                      headers=user.headers).status_code == 422  # fmt: skip


def test_another_users_ids_are_404_everywhere(client, user, make_user):
    track = make_track(client, user, duration_s=5, seed=8)
    tid = track["id"]
    series = client.get("/api/series", headers=user.headers).json()[0]
    sid = series["id"]
    other = make_user().headers
    checks = [
        client.get(f"/api/tracks/{tid}", headers=other),
        client.get(f"/api/tracks/{tid}/files/mp3", headers=other),
        client.post(f"/api/tracks/{tid}/publish", json={"public": True}, headers=other),
        client.post(f"/api/tracks/{tid}/increment-visual-version", headers=other),
        client.delete(f"/api/tracks/{tid}", headers=other),
        client.get(f"/api/series/{sid}", headers=other),
        client.patch(f"/api/series/{sid}", json={"name": "mine"}, headers=other),
        client.delete(f"/api/series/{sid}", headers=other),
        client.get(f"/api/series/{sid}/preview.png", headers=other),
        client.post(
            "/api/tracks", json={"prompt": "x", "duration_s": 5, "series_id": sid}, headers=other
        ),
    ]
    assert [r.status_code for r in checks] == [404] * len(checks)
    assert client.get(f"/api/tracks/{tid}", headers=user.headers).json()["status"] == "ready"
    assert client.get(f"/api/series/{sid}", headers=user.headers).json()["name"] == "Default"
    assert client.get(f"/api/tracks/{tid}").status_code == 401


def test_ambient_tracks_can_be_listed_published_and_given_a_new_cover(client, user):
    with client.app.state.db.session() as session:
        ambient = Track(owner_id=user.id, title="Ocean", prompt="ocean", status="ready",
                        duration_s=60.0, seed=1)  # fmt: skip
        session.add(ambient)
        session.commit()
        ambient_id = ambient.id
    r = client.get(f"/api/tracks/{ambient_id}", headers=user.headers)
    assert r.status_code == 200 and r.json()["kind"] == "ambient" and r.json()["public"] is False
    listed = client.get("/api/tracks", params={"kind": "ambient"}, headers=user.headers).json()
    assert [t["id"] for t in listed["items"]] == [ambient_id]
    assert client.get("/api/tracks", params={"kind": "song"},
                      headers=user.headers).json()["total"] == 0  # fmt: skip
    r = client.post(f"/api/tracks/{ambient_id}/increment-visual-version", headers=user.headers)
    assert r.status_code == 200 and r.json()["visual_version"] == 2
    cover = client.get(f"/api/tracks/{ambient_id}/files/cover", headers=user.headers)
    assert Image.open(io.BytesIO(cover.content)).size == (1024, 1024)  # the series' square cover
    r = client.post(
        f"/api/tracks/{ambient_id}/publish", json={"public": True}, headers=user.headers
    )
    assert r.status_code == 200
    public = client.get(f"/api/public/tracks/{ambient_id}").json()
    assert public["kind"] == "ambient" and [f["kind"] for f in public["files"]] == ["cover"]


def test_genres_are_listed(client, user):
    genres = client.get("/api/genres", headers=user.headers).json()
    names = [g["name"] for g in genres]
    assert "ambient" in names and "lofi" in names and "rock" not in names
    assert all(g["bpm_range"][0] < g["bpm_range"][1] for g in genres)
