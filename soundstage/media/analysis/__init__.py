"""Music intelligence: pure functions that hear tempo, beats, key, loudness, mood and form.

Entry points (issue 3):
- `analyze_file(path, *, lyrics=None) -> AnalysisResult` (analyze.py): the whole analysis.
- `estimate_rhythm(y, sr) -> Rhythm` (rhythm.py), `estimate_key(y, sr) -> KeyEstimate` (key.py).
- `reference_features(path) -> dict` (analyze.py): BPM, key, energy and loudness of a reference.
"""
