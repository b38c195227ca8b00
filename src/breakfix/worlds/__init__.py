"""Built-in worlds beyond the demo: ``files`` (public datasets and the user's files)."""

from breakfix.worlds.files import FilesWorld

__all__ = ["FilesWorld"]
