"""Encryption at rest: round trips, random access, and every kind of tampering is refused."""

import os

import pytest
from hypothesis import given, settings, strategies as st

from videocoach.storage.vault import CHUNK_SIZE, HEADER_SIZE, TAG_SIZE, Vault, VaultError, load_or_create_key


@pytest.fixture
def vault(tmp_path):
    return Vault(load_or_create_key(tmp_path / "keys" / "k", tmp_path / "data"), work_dir=tmp_path)


def _seal(vault, path, data, chunk_size=CHUNK_SIZE):
    with vault.writer(path, chunk_size=chunk_size) as w:
        w.write(data)


@pytest.mark.parametrize("size", [0, 1, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])
def test_round_trip_sizes(vault, tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "f.vcm"
    _seal(vault, path, data)
    assert vault.read_bytes(path) == data
    with vault.open(path) as f:
        assert f.size == size
    assert data[:64] not in path.read_bytes() or size < 16  # the plaintext is not in the file


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=5000), start=st.integers(0, 6000), length=st.integers(0, 6000))
def test_random_access_matches_slices(tmp_path_factory, data, start, length):
    tmp = tmp_path_factory.mktemp("ra")
    vault = Vault(b"k" * 32)
    path = tmp / "f.vcm"
    _seal(vault, path, data, chunk_size=97)  # small chunks so ranges cross many chunk edges
    with vault.open(path) as f:
        assert f.read_range(start, start + length) == data[start : start + length]


def test_tampering_is_detected(vault, tmp_path):
    data = os.urandom(3 * 1000 + 5)
    path = tmp_path / "f.vcm"
    _seal(vault, path, data, chunk_size=1000)
    raw = bytearray(path.read_bytes())
    sealed_chunk = 1000 + TAG_SIZE

    flipped = bytearray(raw)
    flipped[HEADER_SIZE + 10] ^= 1
    (tmp_path / "flip.vcm").write_bytes(flipped)
    with pytest.raises(VaultError):
        vault.read_bytes(tmp_path / "flip.vcm")

    truncated = raw[: HEADER_SIZE + 2 * sealed_chunk]  # drop the last chunks on a chunk boundary
    (tmp_path / "trunc.vcm").write_bytes(truncated)
    with pytest.raises(VaultError):
        vault.read_bytes(tmp_path / "trunc.vcm")

    swapped = raw[:HEADER_SIZE] + raw[HEADER_SIZE + sealed_chunk : HEADER_SIZE + 2 * sealed_chunk] + \
        raw[HEADER_SIZE : HEADER_SIZE + sealed_chunk] + raw[HEADER_SIZE + 2 * sealed_chunk :]
    (tmp_path / "swap.vcm").write_bytes(swapped)
    with pytest.raises(VaultError):
        vault.read_bytes(tmp_path / "swap.vcm")

    other = Vault(b"x" * 32)
    with pytest.raises(VaultError):
        other.read_bytes(path)


def test_failed_write_leaves_nothing(vault, tmp_path):
    path = tmp_path / "out" / "f.vcm"
    with pytest.raises(RuntimeError):
        with vault.writer(path) as w:
            w.write(b"abc" * 1000)
            raise RuntimeError("boom")
    assert not path.exists()
    assert list(path.parent.iterdir()) == []


def test_plaintext_copy_is_removed_also_on_failure(vault, tmp_path):
    path = tmp_path / "f.vcm"
    _seal(vault, path, b"secret lesson")
    with vault.plaintext(path) as plain:
        assert plain.read_bytes() == b"secret lesson"
        kept = plain
    assert not kept.exists()
    with pytest.raises(ValueError):
        with vault.plaintext(path) as plain:
            kept = plain
            raise ValueError
    assert not kept.exists()


def test_key_file_must_be_outside_data_dir(tmp_path):
    with pytest.raises(VaultError):
        load_or_create_key(tmp_path / "data" / "key", tmp_path / "data")
    key = load_or_create_key(tmp_path / "conf" / "key", tmp_path / "data")
    assert len(key) == 32
    assert oct((tmp_path / "conf" / "key").stat().st_mode & 0o777) == "0o600"
    assert load_or_create_key(tmp_path / "conf" / "key") == key


def test_upload_size_limit(vault, tmp_path):
    import io

    with pytest.raises(VaultError):
        vault.seal_stream(io.BytesIO(b"x" * 5000), tmp_path / "big.vcm", max_bytes=4000)
    assert not (tmp_path / "big.vcm").exists()


@given(text=st.text(max_size=2000))
@settings(max_examples=30, deadline=None)
def test_sealed_fields_round_trip_and_hide_the_text(text):
    vault = Vault(os.urandom(32))
    sealed = vault.seal_text(text, "stages.result:L1:transcribe")
    assert sealed.startswith("vcf1:") and sealed.isascii()
    assert vault.open_text(sealed, "stages.result:L1:transcribe") == text
    if len(text) >= 4:
        assert text not in sealed
    assert vault.seal_text(text, "stages.result:L1:transcribe") != sealed  # a fresh nonce each time


def test_sealed_fields_refuse_another_row_another_key_tampering_and_plaintext():
    vault = Vault(os.urandom(32))
    sealed = vault.seal_text("Amir said the salt lowers the freezing point", "bookmarks.note:L1")
    with pytest.raises(VaultError):
        vault.open_text(sealed, "bookmarks.note:L2")  # copied into another lesson's row
    with pytest.raises(VaultError):
        Vault(os.urandom(32)).open_text(sealed, "bookmarks.note:L1")  # another deployment's key
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(VaultError):
        vault.open_text(flipped, "bookmarks.note:L1")
    for bad in ("plain text", "vcf1:not base64!", "vcf1:", ""):
        with pytest.raises(VaultError):
            vault.open_text(bad, "bookmarks.note:L1")
