"""Track platform: tracks from prompts, publishing, series and the style system."""
