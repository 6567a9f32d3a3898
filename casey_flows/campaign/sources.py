"""Where a contacts or suppression file is read from: a local path, or an fsspec URL.

Workers on other machines cannot read the flow author's disk, and a contact list above Prefect's
512 KB parameter cap has to travel as a file: ``s3://bucket/list.csv``, ``gs://...``,
``file:///srv/lists/list.csv`` (fsspec ships with Prefect; the cloud protocols need their own
package, e.g. ``s3fs``). Both kinds answer ``.name``, ``.suffix`` and ``.open()`` like a ``Path``,
so the loaders do not care which they got.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast
from urllib.parse import urlparse


def is_url(location: str | Path) -> bool:
    """``scheme://...`` (a Windows path such as ``C:\\lists`` is not a URL)."""
    text = str(location)
    return "://" in text and len(text.split("://", 1)[0]) > 1


class FileSource:
    """A file to read, local or remote; opened like ``Path.open``."""

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self._url = is_url(location)
        path = urlparse(self.location).path if self._url else self.location
        self._pure = PurePosixPath(path) if self._url else Path(path)

    @property
    def name(self) -> str:
        return self._pure.name

    @property
    def suffix(self) -> str:
        return self._pure.suffix

    def open(self, mode: str = "r", **kwargs: Any) -> AbstractContextManager[IO[Any]]:
        """The file, opened by ``with`` (fsspec hands back an ``OpenFile`` to enter)."""
        if not self._url:
            return Path(self.location).open(mode, **kwargs)
        import fsspec

        # fsspec is untyped; its OpenFile enters as the open file object.
        return cast("AbstractContextManager[IO[Any]]", fsspec.open(self.location, mode, **kwargs))

    def __repr__(self) -> str:
        return f"FileSource({self.location!r})"
