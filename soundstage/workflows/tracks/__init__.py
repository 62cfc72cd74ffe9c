"""Track platform (seed 004): tracks from prompts with credits, publishing, series and the
style system. Its tracks are rows of the studio's `tracks` table (kind "song")."""
