"""Where submitted files are kept: a directory by default, an S3-compatible object store when a
bucket is configured (EAGLET_SUBMISSIONS__S3_BUCKET; docs/operations.md "Submission files:
storage").

An upload is always received into a local temp file first (services/common/submissions/receive.py
`receive_file`, under `Settings.submissions_dir()`); `keep` then gives it its name in the store.
The worker reads a file through `local_copy`: the directory store's file itself, or the object
streamed down into a temp file beside the uploads, removed when the reading is done. Nothing here
holds a whole file in memory, and every file operation runs off the event loop.

Names are ours (`<id>.<fmt>`) and checked against a strict pattern, so a name can never reach
outside the directory or the prefix.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from services.common.tabular import FORMATS

if TYPE_CHECKING:
    from services.common.settings import Settings

log = logging.getLogger("eaglet.submissions")

NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,63}}\.(?:{'|'.join(FORMATS)})")
PART_BYTES = 5 * 1024 * 1024  # S3's smallest part of a multipart upload (but the last)
# Parts in flight at once: an upload holds about this many parts in memory, whatever the file's size.
PARTS_AT_ONCE = 4
WRITE_BYTES = 1024 * 1024


class FileGone(Exception):
    """The store has no file of that name (removed, expired, or never kept)."""


# A kept file's name: its service (the schema of its submissions) and its submission's id.
_KEPT = re.compile(rf"([a-z]{{1,32}})-([0-9]{{1,18}})\.(?:{'|'.join(FORMATS)})")
# The temporary files of an upload being received and of a download being read.
_SCRATCH = re.compile(r"\.(?:upload|download)-[0-9a-f]{16}.*")


def kept_name(service: str, submission_id: int, fmt: str) -> str:
    """The name a submission's file is kept under: `<service>-<id>.<format>`."""
    return checked(f"{service}-{submission_id}.{fmt}")


def kept_owner(name: str) -> tuple[str, int] | None:
    """(service, submission id) of a name `kept_name` makes; None for any other name."""
    m = _KEPT.fullmatch(name)
    return (m.group(1), int(m.group(2))) if m else None


def scratch_path(directory: Path, kind: str, name: str = "") -> Path:
    """A new temporary file under `directory`: an `upload` being received or a `download` of
    kept file `name` being read (`scratch_before` finds those a stopped process left)."""
    return directory / f".{kind}-{secrets.token_hex(8)}{'-' + name if name else ''}"


def checked(name: str) -> str:
    """The name, when it is one of ours (`<id>.<fmt>`); ValueError otherwise."""
    if not NAME.fullmatch(name):
        raise ValueError(f"not a submission file name: {name!r}")
    return name


class SubmissionStore(Protocol):
    async def keep(self, local: Path, name: str) -> None:
        """Take the freshly received local file under `name` (it is gone from `local` after)."""

    def local_copy(self, name: str) -> AbstractAsyncContextManager[Path]:
        """A local path to read the file at, for the time of the `async with`. FileGone when
        there is no such file."""

    async def delete(self, name: str) -> bool:
        """Remove the file; True when there was one (deleting again is no error)."""

    async def exists(self, name: str) -> bool: ...

    async def kept_before(self, cutoff: datetime) -> list[str]:
        """The names of the files kept (last written) before `cutoff`."""


class DirectoryStore:
    """The files in a directory (the services' and the worker's shared one)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / checked(name)

    async def keep(self, local: Path, name: str) -> None:
        final = self.path(name)
        await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(os.replace, local, final)  # atomic: the whole file or none

    @asynccontextmanager
    async def local_copy(self, name: str) -> AsyncIterator[Path]:
        path = self.path(name)
        if not await asyncio.to_thread(path.is_file):
            raise FileGone(f"no submission file {name}")
        yield path  # the kept file itself: read it, never remove it

    async def delete(self, name: str) -> bool:
        path = self.path(name)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True

    async def exists(self, name: str) -> bool:
        return await asyncio.to_thread(self.path(name).is_file)

    async def kept_before(self, cutoff: datetime) -> list[str]:
        return await asyncio.to_thread(_names_before, self.directory, cutoff, NAME)


class ObjectStore:
    """The files as objects of an S3-compatible bucket, under a prefix. Uploads are multipart in
    parts of `part_bytes`, streamed from the local file; downloads stream into a temp file under
    `scratch`."""

    def __init__(self, store: object, scratch: Path, *, part_bytes: int = PART_BYTES) -> None:
        self.store = store  # an obstore store; its prefix is the settings' prefix
        self.scratch = scratch
        self.part_bytes = part_bytes

    async def keep(self, local: Path, name: str) -> None:
        import obstore

        key = checked(name)
        await obstore.put_async(
            self.store, key, local, chunk_size=self.part_bytes, max_concurrency=PARTS_AT_ONCE
        )
        await asyncio.to_thread(local.unlink, missing_ok=True)

    @asynccontextmanager
    async def local_copy(self, name: str) -> AsyncIterator[Path]:
        import obstore
        from obstore.exceptions import NotFoundError

        key = checked(name)
        try:
            result = await obstore.get_async(self.store, key)
        except (NotFoundError, FileNotFoundError) as e:
            raise FileGone(f"no submission file {name}") from e
        await asyncio.to_thread(self.scratch.mkdir, parents=True, exist_ok=True)
        path = scratch_path(self.scratch, "download", key)
        try:
            out = await asyncio.to_thread(path.open, "wb")
            try:
                async for chunk in result.stream(min_chunk_size=WRITE_BYTES):
                    await asyncio.to_thread(out.write, chunk)
            finally:
                await asyncio.to_thread(out.close)
            yield path
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)

    async def delete(self, name: str) -> bool:
        import obstore

        key = checked(name)
        if not await self.exists(key):
            return False
        await obstore.delete_async(self.store, key)  # S3's delete of a missing key is no error
        return True

    async def exists(self, name: str) -> bool:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            await obstore.head_async(self.store, checked(name))
        except (NotFoundError, FileNotFoundError):
            return False
        return True

    async def kept_before(self, cutoff: datetime) -> list[str]:
        import obstore

        names: list[str] = []
        async for batch in obstore.list(self.store, chunk_size=1000):
            names += [o["path"] for o in batch if o["last_modified"] < cutoff and NAME.fullmatch(o["path"])]
        return names


def _names_before(directory: Path, cutoff: datetime, pattern: re.Pattern[str]) -> list[str]:
    """The names in `directory` matching `pattern`, of files last modified before `cutoff`."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    return [
        e.name
        for e in entries
        if pattern.fullmatch(e.name)
        and e.is_file(follow_symlinks=False)
        and datetime.fromtimestamp(e.stat(follow_symlinks=False).st_mtime, UTC) < cutoff
    ]


async def scratch_before(directory: Path, cutoff: datetime) -> list[Path]:
    """Uploads and downloads in the scratch directory last written before `cutoff`: left by a
    process stopped while it received or read a file."""
    names = await asyncio.to_thread(_names_before, directory, cutoff, _SCRATCH)
    return [directory / n for n in names]


async def forget(store: SubmissionStore, name: str) -> None:
    """Delete a file whose submission will not commit. A delete that fails is logged and left
    to the retention job (services/jobs/retention.py `unclaimed_files`), which deletes a file no
    submission names."""
    try:
        await store.delete(name)
    except Exception:
        log.warning("submission file %s not deleted; retention deletes it", name, exc_info=True)


def store_of(settings: Settings) -> SubmissionStore:
    """The store the settings configure: the object store when a bucket is named, else the
    directory `settings.submissions_dir()` (the scratch space of both)."""
    conf = settings.submissions
    directory = settings.submissions_dir()
    if not conf.s3_bucket:
        return DirectoryStore(directory)
    from obstore.store import S3Store

    options: dict = {"region": conf.s3_region}
    if conf.s3_endpoint:
        options["endpoint"] = conf.s3_endpoint
    if conf.s3_access_key_id:
        options["access_key_id"] = conf.s3_access_key_id
    if conf.s3_secret_access_key is not None:
        options["secret_access_key"] = conf.s3_secret_access_key.get_secret_value()
    store = S3Store(
        conf.s3_bucket,
        prefix=conf.s3_prefix or None,
        client_options={"allow_http": conf.s3_allow_http},
        **options,
    )
    return ObjectStore(store, directory)
