"""Where submitted files are kept: the directory store, and the object store against a real local
S3 server (moto's, on 127.0.0.1, started by the test)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.common.settings import Settings, SubmissionsSettings
from services.common.submission_store import DirectoryStore, FileGone, ObjectStore, store_of

BUCKET = "eaglet-submissions"


@pytest.fixture(scope="module")
def s3_endpoint():
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def settings_for(tmp_path: Path, **s3) -> Settings:
    return Settings(data_dir=tmp_path, submissions=SubmissionsSettings(**s3))


@pytest.fixture
def object_store(tmp_path, s3_endpoint) -> ObjectStore:
    store = store_of(
        settings_for(
            tmp_path,
            s3_bucket=BUCKET,
            s3_endpoint=s3_endpoint,
            s3_access_key_id="k",
            s3_secret_access_key=SecretStr("s"),
            s3_allow_http=True,
            s3_prefix=f"t-{os.urandom(4).hex()}/",
        )
    )
    assert isinstance(store, ObjectStore)
    return store


def received(tmp_path: Path, size: int) -> tuple[Path, str]:
    """A freshly received upload: a local temp file of `size` bytes, and its digest."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f".upload-{os.urandom(4).hex()}"
    data = os.urandom(size)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_directory_store_is_the_default(tmp_path):
    store = store_of(settings_for(tmp_path))
    assert isinstance(store, DirectoryStore) and store.directory == tmp_path / "submissions"


async def test_directory_store_round_trip(tmp_path):
    store = DirectoryStore(tmp_path / "submissions")
    local, sha = received(tmp_path / "submissions", 300_000)
    await store.keep(local, "7.csv")
    assert not local.exists()
    assert await store.exists("7.csv")
    async with store.local_copy("7.csv") as path:
        assert path == tmp_path / "submissions" / "7.csv" and digest(path) == sha
    assert await store.delete("7.csv") is True
    assert await store.delete("7.csv") is False
    assert not await store.exists("7.csv")
    with pytest.raises(FileGone, match="no submission file 7.csv"):
        async with store.local_copy("7.csv"):
            pass


async def test_object_store_round_trip_of_a_multipart_file(tmp_path, object_store):
    import obstore

    local, sha = received(tmp_path / "submissions", 12 * 1024 * 1024 + 123)  # three parts of 5 MiB
    await object_store.keep(local, "42.xlsx")
    assert not local.exists()  # the local temp is gone once the object is kept
    assert await object_store.exists("42.xlsx")
    meta = await obstore.head_async(object_store.store, "42.xlsx")
    assert meta["size"] == 12 * 1024 * 1024 + 123
    assert meta["e_tag"].strip('"').endswith("-3")  # S3's mark of a multipart object of three parts
    async with object_store.local_copy("42.xlsx") as path:
        assert path.parent == tmp_path / "submissions" and digest(path) == sha
    assert not path.exists()  # the download is removed after the reading
    assert await object_store.delete("42.xlsx") is True
    assert await object_store.delete("42.xlsx") is False
    assert not await object_store.exists("42.xlsx")


async def test_object_store_small_file_and_overwrite(tmp_path, object_store):
    first, _ = received(tmp_path, 10)
    second, sha = received(tmp_path, 20)
    await object_store.keep(first, "1.csv")
    await object_store.keep(second, "1.csv")  # a retried keep replaces, never fails
    async with object_store.local_copy("1.csv") as path:
        assert digest(path) == sha


def test_a_kept_name_says_its_service_and_submission_and_nothing_else_is_one():
    from services.common.submission_store import kept_name, kept_owner

    assert kept_name("finance", 42, "xlsx") == "finance-42.xlsx"
    assert kept_owner("finance-42.xlsx") == ("finance", 42)
    for other in ("finance-42.xlsx.bak", "finance-42.txt", "../finance-42.csv", "Finance-42.csv",
                  "finance-1234567890123456789.csv", "finance-\x0042.csv", ".upload-0123456789abcdef"):  # fmt: skip
        assert kept_owner(other) is None, other


async def test_both_stores_list_the_files_kept_before_a_time(tmp_path, object_store):
    from datetime import UTC, datetime, timedelta

    directory = DirectoryStore(tmp_path / "submissions")
    for store in (directory, object_store):
        for name in ("finance-1.csv", "registry-2.xlsx"):
            local, _ = received(tmp_path / "submissions", 10)
            await store.keep(local, name)
        (tmp_path / "submissions" / ".upload-0123456789abcdef").write_bytes(b"x")  # not a kept file
        soon = datetime.now(UTC) + timedelta(minutes=1)
        assert sorted(await store.kept_before(soon)) == ["finance-1.csv", "registry-2.xlsx"], store
        assert await store.kept_before(datetime.now(UTC) - timedelta(hours=1)) == [], store
    assert await DirectoryStore(tmp_path / "nowhere").kept_before(datetime.now(UTC)) == []


async def test_object_store_missing_file_is_gone(tmp_path, object_store):
    with pytest.raises(FileGone, match="no submission file 9.csv"):
        async with object_store.local_copy("9.csv"):
            pass
    assert list((tmp_path / "submissions").glob(".download-*")) == []


async def test_the_download_is_removed_when_the_reader_fails(tmp_path, object_store):
    local, _ = received(tmp_path, 1000)
    await object_store.keep(local, "5.csv")
    with pytest.raises(RuntimeError):
        async with object_store.local_copy("5.csv") as path:
            raise RuntimeError("the reader failed")
    assert not path.exists()


@pytest.mark.parametrize(
    "name", ["../1.csv", "a/1.csv", "1.exe", "1.csv/..", ".1.csv", "1.csv\x00", "", "1.csv\n", "%2e%2e.csv"]
)
async def test_names_not_ours_are_refused(tmp_path, object_store, name):
    local, _ = received(tmp_path, 10)
    for store in (DirectoryStore(tmp_path / "submissions"), object_store):
        with pytest.raises(ValueError, match="not a submission file name"):
            await store.keep(local, name)
        with pytest.raises(ValueError):
            await store.exists(name)
        with pytest.raises(ValueError):
            await store.delete(name)
        with pytest.raises(ValueError):
            async with store.local_copy(name):
                pass
    assert local.exists()  # nothing taken
