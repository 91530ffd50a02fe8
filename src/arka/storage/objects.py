"""Object storage for what does not belong in database rows: full traces, exports, backups.

A location is a local directory (the embedded default: `<data dir>/objects`) or
`s3://bucket/prefix` through boto3 (`ARKA_S3_ENDPOINT_URL` for S3-compatible stores such as
MinIO; credentials the usual AWS way). Keys are relative paths of `[A-Za-z0-9._-]`
segments. Local writes are atomic (write to a temporary file, then rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from arka.base.errors import ArkaError

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


class ObjectStoreError(ArkaError):
    api_code = "SERVICE_UNAVAILABLE"
    code = "E_OBJECTS"


class ObjectMissing(ObjectStoreError):
    api_code = "INTERNAL_ERROR"
    code = "E_OBJECT_MISSING"


class Objects(Protocol):
    location: str

    def put(self, key: str, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def ping(self) -> bool: ...


def _check(key: str) -> str:
    if not _KEY.match(key) or ".." in key.split("/"):
        raise ObjectStoreError(f"invalid object key {key!r}")
    return key


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def s3_client() -> Any:
    """boto3's S3 client; `ARKA_S3_ENDPOINT_URL` points it at an S3-compatible store."""
    import boto3
    return boto3.client("s3", endpoint_url=os.environ.get("ARKA_S3_ENDPOINT_URL") or None)


def split_s3(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    if not bucket:
        raise ObjectStoreError(f"{location}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


class LocalObjects:
    def __init__(self, root: Path):
        self.root = root
        self.location = str(root)

    def put(self, key: str, data: bytes) -> str:
        path = self.root / _check(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return f"{self.location}/{key}"

    def get(self, key: str) -> bytes:
        path = self.root / _check(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"object {key} is missing from {self.location}") from None

    def ping(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            return os.access(self.root, os.W_OK)
        except OSError:
            return False


class S3Objects:
    def __init__(self, location: str):
        self.location = location.rstrip("/")
        self.bucket, self.prefix = split_s3(location)
        self._client = s3_client()

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_check(key)}" if self.prefix else _check(key)

    def put(self, key: str, data: bytes) -> str:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"cannot write {key} to {self.location}: {exc}") from None
        return f"{self.location}/{key}"

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError
        try:
            return bytes(self._client.get_object(Bucket=self.bucket, Key=self._key(key))
                         ["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(f"object {key} is missing from {self.location}") from None
            raise ObjectStoreError(f"cannot read {key} from {self.location}: {exc}") from None
        except BotoCoreError as exc:
            raise ObjectStoreError(f"cannot read {key} from {self.location}: {exc}") from None

    def ping(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.bucket)
            return True
        except Exception:  # noqa: BLE001 - readiness reports, it does not raise
            return False


def open_objects(location: str) -> Objects:
    return S3Objects(location) if is_s3(location) else LocalObjects(Path(location))
