"""The ``topex`` command line."""
