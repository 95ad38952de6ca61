"""Encryption at rest for every media file: chunked AES-256-GCM in the STREAM construction.

Why not Fernet: it needs the whole file in memory.  Here a file is a header plus fixed-size chunks, each sealed on its
own, so a 4 GiB lesson streams through in 1 MiB pieces and any byte range can be decrypted without reading the rest
(HTTP range requests for seeking).

File layout::

    header  = MAGIC (8 bytes) | chunk_size (u32 BE) | file_salt (16 bytes)          -- 28 bytes
    chunk i = AES-GCM(file_key, nonce = i (u64 BE) | last (u8) | 0 0 0, plaintext_i, aad = header) -- len + 16

``file_key = HKDF-SHA256(master_key, salt=file_salt, info=b"videocoach media v1")``: a fresh key per file, so the
counter nonces never repeat under one key.  The ``last`` flag sealed into the final chunk's nonce makes truncation
(dropping trailing chunks) and extension detectable; reordering fails the per-chunk nonce.  A file whose plaintext is
empty still has one (empty, last) chunk.

The same master key seals the database's sensitive text fields (``seal_text`` / ``open_text``: what pupils and
teachers said, the teacher's voice print, bookmark and meeting notes): AES-256-GCM under
``HKDF-SHA256(master_key, info=b"videocoach db fields v1")`` with a random 96-bit nonce per value and the field's
table, column and row key as associated data.

The master key is 32 random bytes in a key file kept OUTSIDE the data directory (mode 0600).  Plaintext exists only
in transient working files created by :meth:`Vault.plaintext`, removed after use, also on failure.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import secrets
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"VCMEDIA1"
CHUNK_SIZE = 1024 * 1024  # 1 MiB of plaintext per sealed chunk
TAG_SIZE = 16
SALT_SIZE = 16
HEADER_SIZE = len(MAGIC) + 4 + SALT_SIZE  # 28
KEY_SIZE = 32  # AES-256
FIELD_PREFIX = "vcf1:"  # a sealed database field: "vcf1:" + base64(nonce (12 bytes) + ciphertext + tag)
FIELD_NONCE_SIZE = 12


class VaultError(RuntimeError):
    """An encrypted file is missing, truncated, tampered with, or sealed with another key."""


def load_or_create_key(key_file: Path, data_dir: Path | None = None) -> bytes:
    """Read the master key, creating it (0600) on first use.  Refuses a key file inside the data directory."""
    key_file = Path(key_file).resolve()
    if data_dir is not None:
        data_dir = Path(data_dir).resolve()
        if key_file == data_dir or data_dir in key_file.parents:
            raise VaultError(f"the key file {key_file} must live outside the data directory {data_dir}")
    if key_file.exists():
        key = key_file.read_bytes()
        if len(key) != KEY_SIZE:
            raise VaultError(f"key file {key_file} is not a {KEY_SIZE}-byte key")
        return key
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(KEY_SIZE)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


def _nonce(index: int, last: bool) -> bytes:
    return struct.pack(">QB", index, 1 if last else 0) + b"\0\0\0"


@dataclass(frozen=True)
class _Header:
    raw: bytes
    chunk_size: int
    salt: bytes


class Vault:
    """Seals and opens media files with one master key."""

    def __init__(self, master_key: bytes, work_dir: Path | None = None) -> None:
        if len(master_key) != KEY_SIZE:
            raise VaultError("master key must be 32 bytes")
        self._master = master_key
        self.work_dir = Path(work_dir) if work_dir else None

    # -- keys ---------------------------------------------------------------------------------------------------------
    def _file_key(self, salt: bytes) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=b"videocoach media v1")
        return AESGCM(hkdf.derive(self._master))

    @functools.cached_property
    def _field_key(self) -> AESGCM:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=b"videocoach db fields v1")
        return AESGCM(hkdf.derive(self._master))

    # -- database fields ------------------------------------------------------------------------------------------------
    def seal_text(self, text: str, context: str) -> str:
        """``text`` sealed for a database column: AES-256-GCM, a random nonce, ``context`` (table, column and row
        key) as associated data, so a sealed value copied into another row or lesson does not open."""
        nonce = secrets.token_bytes(FIELD_NONCE_SIZE)
        sealed = self._field_key.encrypt(nonce, text.encode("utf-8"), context.encode("utf-8"))
        return FIELD_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open_text(self, value: str, context: str) -> str:
        """The text of a value made by ``seal_text`` with the same ``context``; anything else is a ``VaultError``."""
        if not isinstance(value, str) or not value.startswith(FIELD_PREFIX):
            raise VaultError(f"a database field ({context}) is not sealed")
        try:
            raw = base64.b64decode(value[len(FIELD_PREFIX):], validate=True)
            plain = self._field_key.decrypt(raw[:FIELD_NONCE_SIZE], raw[FIELD_NONCE_SIZE:], context.encode("utf-8"))
        except (InvalidTag, ValueError) as exc:  # ValueError: not base64 (binascii.Error is one)
            raise VaultError(f"a sealed database field ({context}) does not open with this key") from exc
        return plain.decode("utf-8")

    # -- writing ------------------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, dst: Path, chunk_size: int = CHUNK_SIZE) -> Iterator["_SealingWriter"]:
        """Write plaintext through ``.write(bytes)``; the sealed file appears at ``dst`` atomically on success."""
        dst = Path(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sealing-", dir=dst.parent)
        ok = False
        try:
            with os.fdopen(fd, "wb") as fh:
                w = _SealingWriter(self, fh, chunk_size)
                yield w
                w.close()
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dst)
            ok = True
        finally:
            if not ok:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    def seal_file(self, src: Path, dst: Path) -> int:
        """Encrypt ``src`` into ``dst``; returns the plaintext size."""
        size = 0
        with open(src, "rb") as fin, self.writer(dst) as w:
            while block := fin.read(CHUNK_SIZE):
                w.write(block)
                size += len(block)
        return size

    def seal_stream(self, src: BinaryIO, dst: Path, max_bytes: int | None = None) -> int:
        """Encrypt a stream (an upload) into ``dst``, refusing more than ``max_bytes``; nothing is left on failure."""
        size = 0
        with self.writer(dst) as w:
            while block := src.read(CHUNK_SIZE):
                size += len(block)
                if max_bytes is not None and size > max_bytes:
                    raise VaultError(f"the file is larger than the limit of {max_bytes / 1024**3:.1f} GiB")
                w.write(block)
        return size

    # -- reading ------------------------------------------------------------------------------------------------------
    def open(self, path: Path) -> "SealedFile":
        return SealedFile(self, Path(path))

    def unseal_file(self, src: Path, dst: Path) -> int:
        """Decrypt the whole of ``src`` into ``dst`` (a transient working file); verifies every chunk."""
        size = 0
        with self.open(src) as sealed, open(dst, "wb") as out:
            for block in sealed.iter_range(0, sealed.size):
                out.write(block)
                size += len(block)
        return size

    @contextlib.contextmanager
    def plaintext(self, src: Path, suffix: str = "") -> Iterator[Path]:
        """A transient decrypted copy of ``src`` for tools that need a real file (ffmpeg); removed afterwards."""
        fd, tmp = tempfile.mkstemp(prefix="vc-plain-", suffix=suffix, dir=self.work_dir)
        os.close(fd)
        try:
            os.chmod(tmp, 0o600)
            self.unseal_file(src, Path(tmp))
            yield Path(tmp)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def read_bytes(self, path: Path) -> bytes:
        with self.open(path) as sealed:
            return b"".join(sealed.iter_range(0, sealed.size))

    def write_bytes(self, path: Path, data: bytes) -> None:
        with self.writer(path) as w:
            w.write(data)


class _SealingWriter:
    def __init__(self, vault: Vault, fh: BinaryIO, chunk_size: int) -> None:
        self._fh = fh
        self._chunk_size = chunk_size
        salt = secrets.token_bytes(SALT_SIZE)
        self._header = MAGIC + struct.pack(">I", chunk_size) + salt
        self._aead = vault._file_key(salt)
        self._buf = bytearray()
        self._index = 0
        self._closed = False
        fh.write(self._header)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise VaultError("write after close")
        self._buf += data
        # keep at least one byte back so the final chunk is always sealed with last=True
        while len(self._buf) > self._chunk_size:
            self._seal(bytes(self._buf[: self._chunk_size]), last=False)
            del self._buf[: self._chunk_size]

    def close(self) -> None:
        if not self._closed:
            self._seal(bytes(self._buf), last=True)
            self._buf.clear()
            self._closed = True

    def _seal(self, plain: bytes, last: bool) -> None:
        self._fh.write(self._aead.encrypt(_nonce(self._index, last), plain, self._header))
        self._index += 1


class SealedFile:
    """Random-access reader of a sealed file.  ``size`` is the plaintext size."""

    def __init__(self, vault: Vault, path: Path) -> None:
        try:
            self._fh = open(path, "rb")
        except FileNotFoundError as exc:
            raise VaultError(f"encrypted media file missing: {path.name}") from exc
        raw = self._fh.read(HEADER_SIZE)
        if len(raw) != HEADER_SIZE or not raw.startswith(MAGIC):
            self._fh.close()
            raise VaultError(f"{path.name} is not a videocoach encrypted file")
        (chunk_size,) = struct.unpack(">I", raw[len(MAGIC) : len(MAGIC) + 4])
        if not 1 <= chunk_size <= 64 * 1024 * 1024:
            self._fh.close()
            raise VaultError(f"{path.name} has a bad chunk size")
        self._header = _Header(raw, chunk_size, raw[len(MAGIC) + 4 :])
        self._aead = vault._file_key(self._header.salt)
        body = os.fstat(self._fh.fileno()).st_size - HEADER_SIZE
        sealed_chunk = chunk_size + TAG_SIZE
        self._n_chunks = max(1, -(-body // sealed_chunk))
        last_len = body - (self._n_chunks - 1) * sealed_chunk - TAG_SIZE
        if body < TAG_SIZE or last_len < 0:
            self._fh.close()
            raise VaultError(f"{path.name} is truncated")
        self.size = (self._n_chunks - 1) * chunk_size + last_len
        self.path = path

    def __enter__(self) -> "SealedFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def _chunk(self, index: int) -> bytes:
        sealed_chunk = self._header.chunk_size + TAG_SIZE
        self._fh.seek(HEADER_SIZE + index * sealed_chunk)
        data = self._fh.read(sealed_chunk)
        last = index == self._n_chunks - 1
        try:
            return self._aead.decrypt(_nonce(index, last), data, self._header.raw)
        except InvalidTag as exc:
            raise VaultError(f"{self.path.name}: chunk {index} failed authentication (tampered, truncated or wrong key)") from exc

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Plaintext bytes [start, end), chunk by chunk (each chunk authenticated before anything is yielded)."""
        start, end = max(0, start), min(end, self.size)
        if start >= end:
            if self.size == 0:
                self._chunk(0)  # still authenticate an empty file
            return
        cs = self._header.chunk_size
        for index in range(start // cs, (end - 1) // cs + 1):
            plain = self._chunk(index)
            lo = max(start - index * cs, 0)
            hi = min(end - index * cs, len(plain))
            yield plain[lo:hi]

    def read_range(self, start: int, end: int) -> bytes:
        return b"".join(self.iter_range(start, end))
