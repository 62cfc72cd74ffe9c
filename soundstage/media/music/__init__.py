"""The embedded music engine: prompt → style → composition → rendered, mastered audio.

Public entry points: `MusicRequest`, `MusicOutputs`, `render_music` (engine.py),
`style_from_prompt` (style.py) and `compose` (compose.py).
"""
