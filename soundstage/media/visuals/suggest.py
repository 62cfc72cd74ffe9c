"""Which template suits a song: `suggest_template(genre, mood, energy)`.

The rule, first match wins (genre words are matched case-insensitively anywhere in
``genre``; ``energy`` is the song's mean energy 0..1; moods are analysis moods):

1. Genre words:
   - psychedelic, psych, trance, techno, acid, trip → **kaleidoscope**
   - electronic, edm, electro, house, dance, dubstep, drum and bass, dnb, bass,
     hip hop, hip-hop, rap, trap, synthwave, disco → **spectrum**
     (**flow** when energy < 0.3: a quiet electronic piece wants no bouncing bars)
   - ambient, classical, piano, orchestral, cinematic, soundtrack, acoustic, folk,
     new age, meditation → **drift** (**flow** when energy ≥ 0.6)
2. Otherwise energy and mood:
   - energy ≥ 0.65: **spectrum** for energetic / happy / tense, else **particles**
   - energy < 0.35: **flow** for dreamy, else **drift**
   - in between: **kaleidoscope** for dark / tense, **particles** for happy /
     energetic, else **flow**
"""

from __future__ import annotations

import re

_GENRES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kaleidoscope", ("psychedelic", "psych", "trance", "techno", "acid", "trip")),
    (
        "spectrum",
        (
            "electronic", "edm", "electro", "house", "dance", "dubstep", "drum and bass",
            "dnb", "bass", "hip hop", "hip-hop", "rap", "trap", "synthwave", "disco",
        ),
    ),
    (
        "drift",
        (
            "ambient", "classical", "piano", "orchestral", "cinematic", "soundtrack",
            "acoustic", "folk", "new age", "meditation",
        ),
    ),
)  # fmt: skip


def _genre_template(genre: str) -> str | None:
    text = " " + re.sub(r"[^a-z&\- ]+", " ", genre.lower()) + " "
    for template, words in _GENRES:
        if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text) for w in words):
            return template
    return None


def suggest_template(genre: str, mood: str, energy: float) -> str:
    """A template name for a song's genre, analysis mood and mean energy (see module doc)."""
    energy = min(1.0, max(0.0, float(energy)))
    mood = mood.strip().lower()
    by_genre = _genre_template(genre or "")
    if by_genre == "spectrum" and energy < 0.3:
        return "flow"
    if by_genre == "drift" and energy >= 0.6:
        return "flow"
    if by_genre:
        return by_genre
    if energy >= 0.65:
        return "spectrum" if mood in ("energetic", "happy", "tense") else "particles"
    if energy < 0.35:
        return "flow" if mood == "dreamy" else "drift"
    if mood in ("dark", "tense"):
        return "kaleidoscope"
    if mood in ("happy", "energetic"):
        return "particles"
    return "flow"
