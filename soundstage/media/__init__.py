"""Pure media engines: arrays, paths and parameters in, results out.

Nothing here imports the database, the web framework or the settings object.
"""
