#!/usr/bin/env python3
"""Export PyTorch transformers to attnscope model files (docs/model-format.md).

Library:
    save(module, path, **extra)        model file: state_dict tensors (F32) + config JSON in
                                       __metadata__["attnscope"]; `extra` adds config keys.
    save_tensors(path, tensors, metadata=None)
                                       inputs / outputs / captures (F32, U8 for bool, I64/I32, ...).
    load_tensors(path) -> (dict name -> numpy array, metadata dict)
    infer_config(module) -> config dict (what save() writes)
    expected_shapes(config) -> dict state_dict key -> shape (the format's tensor list)
    make_bias_free(module)             torch 1.13 has no bias=False on the layers: swap in
                                       bias-free MultiheadAttention / Linear, drop LayerNorm biases.
    regular_path(module)               context manager: forward on the regular (non fast-path) code.
    Seq2SeqTransformer, EncoderLM      the two token-model wrappers of the format (kinds seq2seq, lm).

CLI (configs are those of tools/make_fixtures.py):
    /usr/bin/python3 tools/export_torch.py --config post-relu-seqfirst --seed 3 \
        --out /tmp/m.safetensors --inputs /tmp/in.safetensors --expected /tmp/out.safetensors
    /usr/bin/python3 tools/export_torch.py --list

Only torch + numpy; the safetensors container is written by hand:
u64 LE header length | JSON header padded with spaces to a multiple of 8 | raw little-endian data.
Data are ordered by element size (8, 4, 2, 1 bytes) so every tensor's offset is aligned to its
element size (a Float32Array / BigInt64Array can view the file buffer directly).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import sys
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

FORMAT_VERSION = 1


class ExportError(ValueError):
    """The module cannot be described by the attnscope model format."""


# --------------------------------------------------------------------------------------------
# safetensors container
# --------------------------------------------------------------------------------------------

_NP_TO_ST = {
    np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
    np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}
_ST_TO_NP = {v: k for k, v in _NP_TO_ST.items()}


def _to_numpy(name: str, value: Any, float_dtype=np.float32) -> np.ndarray:
    """Tensor / ndarray -> contiguous little-endian ndarray in a file dtype.

    floats -> F32, bool -> U8 (1 = True), int64 -> I64, int32 -> I32, uint8 -> U8."""
    if isinstance(value, Tensor):
        t = value.detach().cpu()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        elif t.is_floating_point():
            t = t.to(torch.float32) if float_dtype == np.float32 else t.to(torch.float64)
        arr = t.contiguous().numpy()
    elif isinstance(value, np.ndarray):
        arr = value
        if arr.dtype == np.bool_:
            arr = arr.astype(np.uint8)
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(float_dtype)
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(value).__name__}")
    arr = np.ascontiguousarray(arr)
    if arr.dtype.newbyteorder("<") not in _NP_TO_ST:
        raise TypeError(f"{name}: dtype {arr.dtype} has no safetensors equivalent here")
    return arr.astype(arr.dtype.newbyteorder("<"), copy=False)


def save_tensors(path: str, tensors: Mapping[str, Any], metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write a safetensors file. Deterministic: same tensors, same order -> same bytes."""
    arrays = [(name, _to_numpy(name, v)) for name, v in tensors.items()]
    # Stable sort by element size (largest first): keeps every offset aligned to its element size.
    order = sorted(range(len(arrays)), key=lambda i: (-arrays[i][1].dtype.itemsize, i))
    header: Dict[str, Any] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors metadata keys and values must be strings")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for i in order:
        name, arr = arrays[i]
        if name == "__metadata__":
            raise ValueError("'__metadata__' is not a valid tensor name")
        data = arr.tobytes(order="C")
        header[name] = {
            "dtype": _NP_TO_ST[np.dtype(arr.dtype.name)],
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode("ascii")
    hjson += b" " * ((-len(hjson)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def load_tensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Read a safetensors file -> ({name: ndarray}, metadata). Checks the header strictly."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out: Dict[str, np.ndarray] = {}
    spans = []
    for name, info in header.items():
        dt = _ST_TO_NP[info["dtype"]]
        shape = tuple(info["shape"])
        b, e = info["data_offsets"]
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * dt.itemsize:
            raise ValueError(f"{path}: {name}: {e - b} bytes for shape {shape} {info['dtype']}")
        out[name] = np.frombuffer(buf, dtype=dt.newbyteorder("<"), count=count, offset=base + b).reshape(shape)
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError(f"{path}: data is not contiguous at byte {b}")
        pos = e
    if base + pos != len(buf):
        raise ValueError(f"{path}: {len(buf) - base - pos} trailing bytes after the data")
    return out, meta


# --------------------------------------------------------------------------------------------
# reproducing stored tensors: which BLAS PyTorch runs on
# --------------------------------------------------------------------------------------------

def blas_library() -> Optional[str]:
    """The BLAS this process loaded (Debian's alternatives pick it: the reference libblas3 runs PyTorch's CPU forward
    many times slower than OpenBLAS), read from /proc/self/maps; None where that file does not exist."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.split()[-1].lower()}
    except OSError:
        return None
    return ", ".join(sorted(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p) for p in libs)) or "none loaded"


# The committed fixtures were made on Debian's reference BLAS (libblas3): there a re-run reproduces them bit for bit.
REFERENCE_BLAS = "blas/libblas.so.3"

# Under another BLAS (OpenBLAS sums in another order) a re-run differs by rounding: measured with OpenBLAS 0.3.21, at
# most 9e-6 on the small fixtures and 9e-5 on the mid-size ones (tensors of larger scale), both within this bound.
OTHER_BLAS_RTOL = 1e-5


def reproduced(what: str, got: np.ndarray, want: np.ndarray) -> float:
    """Checks a re-computed tensor against the stored one: bit for bit on the reference BLAS (returns 0.0); under
    another BLAS within OTHER_BLAS_RTOL of the stored tensor's scale, returning the largest difference. Raises
    AssertionError naming the tensor otherwise."""
    if np.array_equal(got, want):
        return 0.0
    diff = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if got.shape == want.shape else math.inf
    blas = blas_library()
    if blas is not None and blas != REFERENCE_BLAS and diff <= OTHER_BLAS_RTOL * max(1.0, float(np.abs(want).max())):
        return diff
    raise AssertionError(f"{what}: not reproduced bit for bit (max diff {diff:.3g}; PyTorch on the BLAS {blas})")


def not_bit_for_bit(drift: float) -> str:
    """What a verifier prints after the fixtures it reproduced only within rounding (reproduced() > 0)."""
    return (f"  not bit for bit: within {drift:.2g}, PyTorch running on {blas_library()} "
            f"(the fixtures were made on {REFERENCE_BLAS}, where they reproduce exactly)")


# --------------------------------------------------------------------------------------------
# token-model wrappers
# --------------------------------------------------------------------------------------------

def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/E)), PE[pos, 2i+1] = cos(pos / 10000^(2i/E)).

    Computed in float64, rounded once to float32 (odd E: the last column is a sin column)."""
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    two_i = np.arange(0, d_model, 2, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, two_i / d_model)
    pe = np.zeros((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return torch.from_numpy(pe.astype(np.float32))


class _TokenEmbedding(nn.Module):
    """Shared by the wrappers: ids -> embed(ids) * embed_scale + positions."""

    def _init_positions(self, positional: str, max_len: int, d_model: int) -> None:
        if positional not in ("sinusoidal", "learned", "none"):
            raise ValueError(f"positional must be sinusoidal | learned | none, not {positional!r}")
        self.positional = positional
        self.max_len = int(max_len)
        if positional == "learned":
            self.pos_embed = nn.Embedding(max_len, d_model)
        else:
            self.pos_embed = None
        # Not part of the state_dict (derived from max_len and E).
        self.register_buffer("pe", sinusoidal_table(max_len, d_model) if positional == "sinusoidal" else None,
                             persistent=False)

    def _embed(self, table: nn.Embedding, ids: Tensor, batch_first: bool) -> Tensor:
        # ids: [B, L] (batch_first) or [L, B] -> x: [B, L, E] or [L, B, E]
        seq_dim = 1 if batch_first else 0
        length = ids.shape[seq_dim]
        if length > self.max_len:
            raise ValueError(f"sequence length {length} exceeds max_len {self.max_len}")
        x = table(ids) * self.embed_scale  # f32 * scale (rounded to f32 by PyTorch)
        if self.positional == "none":
            return x
        if self.positional == "learned":
            pos = self.pos_embed.weight[:length]  # [L, E]
        else:
            pos = self.pe[:length]  # [L, E]
        return x + (pos.unsqueeze(0) if batch_first else pos.unsqueeze(1))


class Seq2SeqTransformer(_TokenEmbedding):
    """Token seq2seq model around nn.Transformer (kind "seq2seq").

    forward(src_ids, tgt_ids, masks...) computes exactly:
        src = src_embed(src_ids) * embed_scale + P[:S]     # P: sinusoidal table, pos_embed.weight or 0
        tgt = tgt_embed(tgt_ids) * embed_scale + P[:T]     # positions along the sequence axis
        out = transformer(src, tgt, src_mask, tgt_mask, memory_mask,
                          src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask)
        return generator(out)                              # logits [B, T, Vt] or [T, B, Vt]
    ids are [B, L] when batch_first, else [L, B]; masks are passed through unchanged (the caller
    builds e.g. key padding masks from pad_id and the causal tgt_mask).
    """

    def __init__(self, src_vocab, tgt_vocab, d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                 dim_feedforward=64, dropout=0.0, activation="relu", layer_norm_eps=1e-5, batch_first=False,
                 norm_first=False, positional="sinusoidal", max_len=128, embed_scale=None,
                 pad_id=0, bos_id=1, eos_id=2, bias=True):
        super().__init__()
        self.src_vocab = list(src_vocab)
        self.tgt_vocab = list(tgt_vocab)
        self.embed_scale = float(math.sqrt(d_model) if embed_scale is None else embed_scale)
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.batch_first = batch_first
        self.src_embed = nn.Embedding(len(self.src_vocab), d_model)
        self.tgt_embed = nn.Embedding(len(self.tgt_vocab), d_model)
        self._init_positions(positional, max_len, d_model)
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                          dropout, activation, layer_norm_eps=layer_norm_eps,
                                          batch_first=batch_first, norm_first=norm_first)
        self.generator = nn.Linear(d_model, len(self.tgt_vocab), bias=bias)
        if not bias:
            make_bias_free(self.transformer)

    def forward(self, src_ids: Tensor, tgt_ids: Tensor, src_mask: Optional[Tensor] = None,
                tgt_mask: Optional[Tensor] = None, memory_mask: Optional[Tensor] = None,
                src_key_padding_mask: Optional[Tensor] = None, tgt_key_padding_mask: Optional[Tensor] = None,
                memory_key_padding_mask: Optional[Tensor] = None) -> Tensor:
        src = self._embed(self.src_embed, src_ids, self.batch_first)
        tgt = self._embed(self.tgt_embed, tgt_ids, self.batch_first)
        out = self.transformer(src, tgt, src_mask=src_mask, tgt_mask=tgt_mask, memory_mask=memory_mask,
                               src_key_padding_mask=src_key_padding_mask,
                               tgt_key_padding_mask=tgt_key_padding_mask,
                               memory_key_padding_mask=memory_key_padding_mask)
        return self.generator(out)


class EncoderLM(_TokenEmbedding):
    """Encoder-only language model (kind "lm").

    forward(ids, src_key_padding_mask=None) computes exactly:
        x = embed(ids) * embed_scale + P[:L]               # P: pos_embed.weight, sinusoidal or 0
        mask = nn.Transformer.generate_square_subsequent_mask(L) if causal else None
                                                           # float: 0 on/below the diagonal, -inf above
        return head(encoder(x, mask, src_key_padding_mask))  # logits [B, L, V] or [L, B, V]
    """

    def __init__(self, vocab, d_model=32, nhead=4, num_layers=2, dim_feedforward=64, dropout=0.0,
                 activation="relu", layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 positional="learned", max_len=128, embed_scale=1.0, causal=True, final_norm=True,
                 pad_id=None, bos_id=None, eos_id=None, bias=True):
        super().__init__()
        self.vocab = list(vocab)
        self.embed_scale = float(embed_scale)
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.batch_first = batch_first
        self.causal = bool(causal)
        self.embed = nn.Embedding(len(self.vocab), d_model)
        self._init_positions(positional, max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation,
                                           layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                                           norm_first=norm_first)
        norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, len(self.vocab), bias=bias)
        if not bias:
            make_bias_free(self.encoder)

    def forward(self, ids: Tensor, src_key_padding_mask: Optional[Tensor] = None) -> Tensor:
        x = self._embed(self.embed, ids, self.batch_first)
        length = ids.shape[1 if self.batch_first else 0]
        mask = nn.Transformer.generate_square_subsequent_mask(length).to(x.device) if self.causal else None
        return self.head(self.encoder(x, mask=mask, src_key_padding_mask=src_key_padding_mask))


# --------------------------------------------------------------------------------------------
# bias-free models on torch 1.13, regular (non fast-path) execution
# --------------------------------------------------------------------------------------------

def _bias_free_mha(old: nn.MultiheadAttention) -> nn.MultiheadAttention:
    return nn.MultiheadAttention(old.embed_dim, old.num_heads, dropout=old.dropout, bias=False,
                                 batch_first=old.batch_first, device=old.in_proj_weight.device,
                                 dtype=old.in_proj_weight.dtype)


def _bias_free_linear(old: nn.Linear) -> nn.Linear:
    return nn.Linear(old.in_features, old.out_features, bias=False, device=old.weight.device,
                     dtype=old.weight.dtype)


def make_bias_free(module: nn.Module) -> nn.Module:
    """In place: every encoder/decoder layer gets bias-free attention and linears, every
    LayerNorm inside `module` loses its bias (the stack norms included), and the wrappers'
    generator/head become bias-free. New weights are freshly initialised (re-initialise after).
    Equivalent to PyTorch >= 2.1 `bias=False`."""
    for m in list(module.modules()):
        if isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            m.self_attn = _bias_free_mha(m.self_attn)
            if isinstance(m, nn.TransformerDecoderLayer):
                m.multihead_attn = _bias_free_mha(m.multihead_attn)
            m.linear1 = _bias_free_linear(m.linear1)
            m.linear2 = _bias_free_linear(m.linear2)
        if isinstance(m, nn.LayerNorm):
            m.register_parameter("bias", None)  # F.layer_norm accepts bias=None
    for attr in ("generator", "head"):
        lin = getattr(module, attr, None)
        if isinstance(lin, nn.Linear) and lin.bias is not None:
            setattr(module, attr, _bias_free_linear(lin))
    return module


class FastPathUsed(RuntimeError):
    pass


@contextlib.contextmanager
def regular_path(module: nn.Module):
    """Run `module` (in eval mode) on PyTorch's regular Python path and prove it.

    torch 1.13 takes a fused "fast path" (torch._transformer_encoder_layer_fwd,
    torch._native_multi_head_attention, nested tensors in TransformerEncoder) in eval mode when
    autograd is off or nothing requires grad, for batch_first inputs with an even head count.
    It differs slightly numerically, returns zeros at padded positions, skips hooks, and with
    bias-free layers it crashes (it calls .is_cuda on the None biases). Here:
      * grad stays enabled and every parameter requires grad (disables the MHA fast path);
      * each TransformerEncoderLayer object alone gets .training = True: that flag is read only by
        the fast-path checks (its Dropout children and self_attn stay in eval, so nothing else
        changes);
      * the three fast-path entry points are replaced by functions that raise FastPathUsed.
    """
    layers = [m for m in module.modules() if isinstance(m, nn.TransformerEncoderLayer)]
    saved_training = [m.training for m in layers]
    saved_grad = [(p, p.requires_grad) for p in module.parameters()]
    names = ("_transformer_encoder_layer_fwd", "_native_multi_head_attention", "_nested_tensor_from_mask")
    saved_fns = {n: getattr(torch, n) for n in names if hasattr(torch, n)}

    def refuse(name):
        def f(*args, **kwargs):
            raise FastPathUsed(f"torch.{name} was called: the fast path was taken")
        return f

    for m in module.modules():
        if isinstance(m, nn.Dropout) and m.training:
            raise RuntimeError("regular_path: call module.eval() first (a Dropout is in training mode)")
    try:
        for m in layers:
            m.training = True
        for p, _ in saved_grad:
            p.requires_grad_(True)
        for n in saved_fns:
            setattr(torch, n, refuse(n))
        with torch.enable_grad():
            yield module
    finally:
        for n, f in saved_fns.items():
            setattr(torch, n, f)
        for p, rg in saved_grad:
            p.requires_grad_(rg)
        for m, t in zip(layers, saved_training):
            m.training = t


# --------------------------------------------------------------------------------------------
# config inference
# --------------------------------------------------------------------------------------------

_LAYER_KEYS = ("d_model", "nhead", "dim_feedforward", "activation", "layer_norm_eps", "norm_first",
               "batch_first", "bias")


def _activation_name(act: Any, where: str) -> str:
    if act is F.relu or act is torch.relu or isinstance(act, nn.ReLU):
        return "relu"
    if act is F.gelu or isinstance(act, nn.GELU):
        approx = getattr(act, "approximate", "none")
        if approx != "none":
            raise ExportError(f"{where}: GELU(approximate={approx!r}) is not supported (only exact erf gelu)")
        return "gelu"
    raise ExportError(f"{where}: activation {act!r} is not supported; use relu (F.relu / nn.ReLU) "
                      f"or exact gelu (F.gelu / nn.GELU())")


def _check_norm(norm: Any, d_model: int, where: str) -> Tuple[float, bool]:
    if type(norm) is not nn.LayerNorm:
        raise ExportError(f"{where}: expected nn.LayerNorm, got {type(norm).__name__}")
    if tuple(norm.normalized_shape) != (d_model,):
        raise ExportError(f"{where}: normalized_shape {tuple(norm.normalized_shape)} != ({d_model},)")
    if norm.weight is None:
        raise ExportError(f"{where}: LayerNorm without weight (elementwise_affine=False) is not supported")
    return float(norm.eps), norm.bias is not None


def _check_mha(mha: Any, where: str) -> Tuple[int, int, bool, bool]:
    if type(mha) is not nn.MultiheadAttention:
        raise ExportError(f"{where}: expected nn.MultiheadAttention, got {type(mha).__name__}")
    if not mha._qkv_same_embed_dim or mha.in_proj_weight is None:
        raise ExportError(f"{where}: separate q/k/v projection weights (kdim/vdim != embed_dim) are not supported")
    if mha.bias_k is not None or mha.bias_v is not None:
        raise ExportError(f"{where}: add_bias_kv=True is not supported")
    if mha.add_zero_attn:
        raise ExportError(f"{where}: add_zero_attn=True is not supported")
    has_bias = mha.in_proj_bias is not None
    if has_bias != (mha.out_proj.bias is not None):
        raise ExportError(f"{where}: in_proj_bias and out_proj.bias must be both present or both absent")
    return mha.embed_dim, mha.num_heads, bool(mha.batch_first), has_bias


def _layer_config(layer: nn.Module, where: str, decoder: bool) -> Dict[str, Any]:
    cls = nn.TransformerDecoderLayer if decoder else nn.TransformerEncoderLayer
    if type(layer) is not cls:
        raise ExportError(f"{where}: expected {cls.__name__}, got {type(layer).__name__} "
                          f"(subclasses may change forward() and are refused)")
    e, h, bf, b_sa = _check_mha(layer.self_attn, f"{where}.self_attn")
    biases = {"self_attn": b_sa}
    if decoder:
        e2, h2, bf2, b_ca = _check_mha(layer.multihead_attn, f"{where}.multihead_attn")
        if (e2, h2, bf2) != (e, h, bf):
            raise ExportError(f"{where}: multihead_attn (E={e2}, H={h2}, batch_first={bf2}) differs from "
                              f"self_attn (E={e}, H={h}, batch_first={bf})")
        biases["multihead_attn"] = b_ca
    for name in ("linear1", "linear2"):
        if type(getattr(layer, name)) is not nn.Linear:
            raise ExportError(f"{where}.{name}: expected nn.Linear, got {type(getattr(layer, name)).__name__}")
    l1, l2 = layer.linear1, layer.linear2
    if l1.in_features != e or l2.out_features != e or l2.in_features != l1.out_features:
        raise ExportError(f"{where}: linear1 {l1.in_features}->{l1.out_features}, linear2 "
                          f"{l2.in_features}->{l2.out_features} do not fit d_model {e}")
    biases["linear1"] = l1.bias is not None
    biases["linear2"] = l2.bias is not None
    eps = None
    for name in ("norm1", "norm2", "norm3") if decoder else ("norm1", "norm2"):
        n_eps, n_bias = _check_norm(getattr(layer, name), e, f"{where}.{name}")
        biases[name] = n_bias
        if eps is not None and n_eps != eps:
            raise ExportError(f"{where}.{name}: eps {n_eps} differs from norm1's {eps}")
        eps = n_eps
    if len(set(biases.values())) != 1:
        raise ExportError(f"{where}: biases must be all present or all absent, got {biases}")
    return {
        "d_model": e, "nhead": h, "dim_feedforward": l1.out_features,
        "activation": _activation_name(layer.activation, f"{where}.activation"),
        "layer_norm_eps": eps, "norm_first": bool(layer.norm_first), "batch_first": bf,
        "bias": b_sa,
    }


def _stack_config(stack: nn.Module, where: str, decoder: bool) -> Tuple[Optional[Dict[str, Any]], int, Optional[Tuple[float, bool]]]:
    cls = nn.TransformerDecoder if decoder else nn.TransformerEncoder
    if type(stack) is not cls:
        raise ExportError(f"{where or 'module'}: expected {cls.__name__}, got {type(stack).__name__}")
    prefix = f"{where}." if where else ""
    cfg = None
    first = None
    for i, layer in enumerate(stack.layers):
        c = _layer_config(layer, f"{prefix}layers.{i}", decoder)
        if cfg is None:
            cfg, first = c, f"{prefix}layers.{i}"
        else:
            for k in _LAYER_KEYS:
                if c[k] != cfg[k]:
                    raise ExportError(f"{prefix}layers.{i}: {k} = {c[k]!r} but {first} has {cfg[k]!r}; "
                                      f"all layers must agree")
    norm = None
    if stack.norm is not None:
        if cfg is None:
            raise ExportError(f"{prefix}norm: a final norm without layers cannot be exported")
        norm = _check_norm(stack.norm, cfg["d_model"], f"{prefix}norm")
    return cfg, len(stack.layers), norm


def _merge(cfgs: Iterable[Tuple[str, Optional[Dict[str, Any]]]]) -> Dict[str, Any]:
    merged, src = None, None
    for where, c in cfgs:
        if c is None:
            continue
        if merged is None:
            merged, src = dict(c), where
            continue
        for k in _LAYER_KEYS:
            if c[k] != merged[k]:
                raise ExportError(f"{where}: {k} = {c[k]!r} but {src} has {merged[k]!r}; all layers must agree")
    if merged is None:
        raise ExportError("the module has no encoder or decoder layers: nothing defines the configuration")
    return merged


def _check_final_norm(norm: Optional[Tuple[float, bool]], cfg: Dict[str, Any], where: str) -> None:
    if norm is None:
        return
    eps, bias = norm
    if eps != cfg["layer_norm_eps"]:
        raise ExportError(f"{where}: eps {eps} differs from the layers' {cfg['layer_norm_eps']}")
    if bias != cfg["bias"]:
        raise ExportError(f"{where}: bias {'present' if bias else 'absent'} but the layers' biases are "
                          f"{'present' if cfg['bias'] else 'absent'}")


def _transformer_config(t: nn.Module, where: str) -> Dict[str, Any]:
    if type(t) is not nn.Transformer:
        raise ExportError(f"{where or 'module'}: expected nn.Transformer, got {type(t).__name__}")
    p = f"{where}." if where else ""
    enc, n_enc, enc_norm = _stack_config(t.encoder, f"{p}encoder", decoder=False)
    dec, n_dec, dec_norm = _stack_config(t.decoder, f"{p}decoder", decoder=True)
    cfg = _merge([(f"{p}encoder", enc), (f"{p}decoder", dec)])
    _check_final_norm(enc_norm, cfg, f"{p}encoder.norm")
    _check_final_norm(dec_norm, cfg, f"{p}decoder.norm")
    if bool(t.batch_first) != cfg["batch_first"]:
        raise ExportError(f"{where or 'module'}: batch_first={t.batch_first} but the layers have "
                          f"batch_first={cfg['batch_first']}")
    cfg.update(num_encoder_layers=n_enc, num_decoder_layers=n_dec,
               encoder_norm=enc_norm is not None, decoder_norm=dec_norm is not None)
    return cfg


def _embedding(emb: Any, where: str, rows: Optional[int], d_model: int) -> None:
    if type(emb) is not nn.Embedding:
        raise ExportError(f"{where}: expected nn.Embedding, got {type(emb).__name__}")
    if emb.max_norm is not None:
        raise ExportError(f"{where}: max_norm is not supported (it rewrites rows during forward)")
    if emb.embedding_dim != d_model or (rows is not None and emb.num_embeddings != rows):
        raise ExportError(f"{where}: shape [{emb.num_embeddings}, {emb.embedding_dim}], expected "
                          f"[{rows if rows is not None else '?'}, {d_model}]")


def _head(lin: Any, where: str, cfg: Dict[str, Any], rows: int) -> None:
    if type(lin) is not nn.Linear:
        raise ExportError(f"{where}: expected nn.Linear, got {type(lin).__name__}")
    if lin.in_features != cfg["d_model"] or lin.out_features != rows:
        raise ExportError(f"{where}: {lin.in_features}->{lin.out_features}, expected {cfg['d_model']}->{rows}")
    if (lin.bias is not None) != cfg["bias"]:
        raise ExportError(f"{where}: bias {'present' if lin.bias is not None else 'absent'} disagrees with the "
                          f"layers (bias={cfg['bias']})")


def _token_config(m: _TokenEmbedding, cfg: Dict[str, Any]) -> Dict[str, Any]:
    e = cfg["d_model"]
    if m.positional == "learned":
        _embedding(m.pos_embed, "pos_embed", m.max_len, e)
    for k in ("pad_id", "bos_id", "eos_id"):
        v = getattr(m, k)
        if v is not None and not isinstance(v, int):
            raise ExportError(f"{k} must be an int or None, got {v!r}")
    if bool(m.batch_first) != cfg["batch_first"]:
        raise ExportError(f"batch_first={m.batch_first} but the layers have batch_first={cfg['batch_first']}")
    return {"positional": m.positional, "max_len": int(m.max_len), "embed_scale": float(m.embed_scale),
            "pad_id": m.pad_id, "bos_id": m.bos_id, "eos_id": m.eos_id}


def _ordered(kind: str, cfg: Dict[str, Any], extra: Dict[str, Any]) -> Dict[str, Any]:
    out = {"format_version": FORMAT_VERSION, "kind": kind}
    for k in ("d_model", "nhead", "dim_feedforward", "num_encoder_layers", "num_decoder_layers", "activation",
              "layer_norm_eps", "norm_first", "batch_first", "bias", "encoder_norm", "decoder_norm"):
        out[k] = cfg[k]
    out.update(extra)
    return out


def infer_config(module: nn.Module) -> Dict[str, Any]:
    """The attnscope config of `module` (raises ExportError with the offending module path)."""
    if isinstance(module, Seq2SeqTransformer):
        cfg = _transformer_config(module.transformer, "transformer")
        _embedding(module.src_embed, "src_embed", len(module.src_vocab), cfg["d_model"])
        _embedding(module.tgt_embed, "tgt_embed", len(module.tgt_vocab), cfg["d_model"])
        _head(module.generator, "generator", cfg, len(module.tgt_vocab))
        tok = _token_config(module, cfg)
        return _ordered("seq2seq", cfg, {"src_vocab": list(module.src_vocab), "tgt_vocab": list(module.tgt_vocab),
                                         **tok})
    if isinstance(module, EncoderLM):
        enc, n, norm = _stack_config(module.encoder, "encoder", decoder=False)
        cfg = _merge([("encoder", enc)])
        _check_final_norm(norm, cfg, "encoder.norm")
        cfg.update(num_encoder_layers=n, num_decoder_layers=0, encoder_norm=norm is not None, decoder_norm=False)
        _embedding(module.embed, "embed", len(module.vocab), cfg["d_model"])
        _head(module.head, "head", cfg, len(module.vocab))
        tok = _token_config(module, cfg)
        return _ordered("lm", cfg, {"vocab": list(module.vocab), **tok, "causal": bool(module.causal)})
    if type(module) is nn.Transformer:
        return _ordered("transformer", _transformer_config(module, ""), {})
    if type(module) is nn.TransformerEncoder:
        enc, n, norm = _stack_config(module, "", decoder=False)
        cfg = _merge([("module", enc)])
        _check_final_norm(norm, cfg, "norm")
        cfg.update(num_encoder_layers=n, num_decoder_layers=0, encoder_norm=norm is not None, decoder_norm=False)
        return _ordered("encoder", cfg, {})
    if type(module) is nn.TransformerDecoder:
        dec, n, norm = _stack_config(module, "", decoder=True)
        cfg = _merge([("module", dec)])
        _check_final_norm(norm, cfg, "norm")
        cfg.update(num_encoder_layers=0, num_decoder_layers=n, encoder_norm=False, decoder_norm=norm is not None)
        return _ordered("decoder", cfg, {})
    raise ExportError(f"cannot export {type(module).__name__}: expected nn.Transformer, nn.TransformerEncoder, "
                      f"nn.TransformerDecoder, Seq2SeqTransformer or EncoderLM")


def expected_shapes(cfg: Mapping[str, Any]) -> Dict[str, Tuple[int, ...]]:
    """Every tensor a model file of this config holds (docs/model-format.md), name -> shape."""
    e, f, b = cfg["d_model"], cfg["dim_feedforward"], cfg["bias"]
    out: Dict[str, Tuple[int, ...]] = {}

    def attn(p):
        out[p + "in_proj_weight"] = (3 * e, e)
        if b:
            out[p + "in_proj_bias"] = (3 * e,)
        out[p + "out_proj.weight"] = (e, e)
        if b:
            out[p + "out_proj.bias"] = (e,)

    def norm(p):
        out[p + "weight"] = (e,)
        if b:
            out[p + "bias"] = (e,)

    def linear(p, n_out, n_in):
        out[p + "weight"] = (n_out, n_in)
        if b:
            out[p + "bias"] = (n_out,)

    def layer(p, decoder):
        attn(p + "self_attn.")
        if decoder:
            attn(p + "multihead_attn.")
        linear(p + "linear1.", f, e)
        linear(p + "linear2.", e, f)
        for k in ("norm1", "norm2", "norm3") if decoder else ("norm1", "norm2"):
            norm(p + k + ".")

    def encoder(p):
        for i in range(cfg["num_encoder_layers"]):
            layer(f"{p}layers.{i}.", False)
        if cfg["encoder_norm"]:
            norm(p + "norm.")

    def decoder(p):
        for i in range(cfg["num_decoder_layers"]):
            layer(f"{p}layers.{i}.", True)
        if cfg["decoder_norm"]:
            norm(p + "norm.")

    kind = cfg["kind"]
    if kind == "transformer":
        encoder("encoder.")
        decoder("decoder.")
    elif kind == "encoder":
        encoder("")
    elif kind == "decoder":
        decoder("")
    elif kind == "seq2seq":
        out["src_embed.weight"] = (len(cfg["src_vocab"]), e)
        out["tgt_embed.weight"] = (len(cfg["tgt_vocab"]), e)
        if cfg["positional"] == "learned":
            out["pos_embed.weight"] = (cfg["max_len"], e)
        encoder("transformer.encoder.")
        decoder("transformer.decoder.")
        linear("generator.", len(cfg["tgt_vocab"]), e)
    elif kind == "lm":
        out["embed.weight"] = (len(cfg["vocab"]), e)
        if cfg["positional"] == "learned":
            out["pos_embed.weight"] = (cfg["max_len"], e)
        encoder("encoder.")
        linear("head.", len(cfg["vocab"]), e)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return out


def save(module: nn.Module, path: str, **extra: Any) -> Dict[str, Any]:
    """Write `module` as an attnscope model file; returns the config written.

    extra: additional JSON-serialisable config keys (must not contradict the inferred ones)."""
    cfg = infer_config(module)
    for k, v in extra.items():
        if k in cfg and cfg[k] != v:
            raise ExportError(f"extra config {k}={v!r} contradicts the module ({cfg[k]!r})")
        cfg[k] = v
    state = module.state_dict()
    shapes = expected_shapes(cfg)
    missing = [k for k in shapes if k not in state]
    unexpected = [k for k in state if k not in shapes]
    if missing or unexpected:
        raise ExportError(f"state_dict does not match the format: missing {missing}, unexpected {unexpected}")
    tensors = {}
    for k, v in state.items():
        if tuple(v.shape) != shapes[k]:
            raise ExportError(f"{k}: shape {tuple(v.shape)}, expected {shapes[k]}")
        if not v.is_floating_point():
            raise ExportError(f"{k}: dtype {v.dtype} is not floating point")
        t = v.detach().cpu().to(torch.float32).contiguous()
        if not torch.isfinite(t).all():
            raise ExportError(f"{k}: holds NaN or infinite values")
        tensors[k] = t
    meta = json.dumps(cfg, separators=(",", ":"), allow_nan=False)
    save_tensors(path, tensors, {"attnscope": meta})
    return cfg


def load_model_file(path: str) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """Read a model file -> (config, tensors), checking names and shapes against the format."""
    tensors, meta = load_tensors(path)
    if "attnscope" not in meta:
        raise ValueError(f"{path}: no __metadata__['attnscope'] config")
    cfg = json.loads(meta["attnscope"])
    shapes = expected_shapes(cfg)
    if set(shapes) != set(tensors):
        raise ValueError(f"{path}: tensor names differ from the format: missing "
                         f"{sorted(set(shapes) - set(tensors))}, unexpected {sorted(set(tensors) - set(shapes))}")
    for k, s in shapes.items():
        if tuple(tensors[k].shape) != s:
            raise ValueError(f"{path}: {k} has shape {tensors[k].shape}, expected {s}")
    return cfg, tensors


def load_user_model(spec: str, state_dict: Optional[str]) -> nn.Module:
    """The module a user's `pkg.mod:factory` builds (a callable returning an nn.Module, or an nn.Module attribute),
    with the state dict at `state_dict` loaded into it (strict), in eval mode.

    The checkpoint is read with torch.load(weights_only=True) (PyTorch >= 1.13; the default from 2.6): a dict of
    tensors, possibly nested under "state_dict" or "model_state_dict" (Lightning / training-loop checkpoints), with a
    "module." prefix on every key (DataParallel) dropped. A pickled module is refused: save model.state_dict()."""
    import importlib

    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr:
        raise ExportError(f"--module {spec!r}: expected pkg.mod:factory")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # the user's package beside where they run the exporter, as `python -m` does
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as e:
        raise ExportError(f"--module {spec!r}: cannot import {mod_name}: {e}") from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ExportError(f"--module {spec!r}: {mod_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    module = obj if isinstance(obj, nn.Module) else obj() if callable(obj) else obj
    if not isinstance(module, nn.Module):
        raise ExportError(f"--module {spec!r}: {attr} gave a {type(module).__name__}, not an nn.Module")
    if state_dict is not None:
        try:
            sd = torch.load(state_dict, map_location="cpu", weights_only=True)
        except FileNotFoundError as e:
            raise ExportError(f"--state-dict {state_dict}: no such file") from e
        except Exception as e:  # torch raises UnpicklingError / RuntimeError with long explanations
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExportError(f"--state-dict {state_dict}: not a state dict of tensors ({first}); "
                              "save model.state_dict(), not the module") from e
        for key in ("state_dict", "model_state_dict"):
            if isinstance(sd, dict) and isinstance(sd.get(key), dict):
                sd = sd[key]
        if not isinstance(sd, dict) or not all(isinstance(v, Tensor) for v in sd.values()):
            raise ExportError(f"--state-dict {state_dict}: not a dict of tensors")
        if sd and all(k.startswith("module.") for k in sd):
            sd = {k[len("module."):]: v for k, v in sd.items()}
        want = set(module.state_dict())
        missing = sorted(want - set(sd))
        unexpected = sorted(set(sd) - want)
        if missing or unexpected:
            raise ExportError(f"--state-dict {state_dict} does not fit {spec}: missing {missing[:5]}"
                              f"{' …' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}{' …' if len(unexpected) > 5 else ''}")
        try:
            module.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise ExportError(f"--state-dict {state_dict}: {str(e).strip().splitlines()[-1].strip()}") from e
    return module.eval()


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    import argparse

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import make_fixtures  # the config matrix lives there

    ap = argparse.ArgumentParser(description="Export your model (--module pkg.mod:factory [--state-dict ckpt.pt]) "
                                             "or a freshly seeded model of a named fixture config (plus its inputs "
                                             "and PyTorch's outputs) as an attnscope model file.")
    ap.add_argument("--module", help="pkg.mod:factory: a callable returning your nn.Module (imported from the "
                                     "current directory or PYTHONPATH)")
    ap.add_argument("--state-dict", help="with --module: the checkpoint to load into it (torch.save(model.state_dict()))")
    ap.add_argument("--config", help="config name (see --list)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="model file to write (.safetensors)")
    ap.add_argument("--inputs", help="write the inputs here")
    ap.add_argument("--expected", help="write output + captures here (same path as --inputs: one file)")
    ap.add_argument("--list", action="store_true", help="list the config names")
    args = ap.parse_args(argv)
    if args.list:
        for c in make_fixtures.CONFIGS:
            print(f"{c['name']:32s} {c['kind']:12s} {c['description']}")
        return 0
    if args.module:
        if args.config or args.inputs or args.expected:
            ap.error("--module exports your model; --config, --inputs and --expected are for the fixture configs")
        if not args.out:
            ap.error("--module needs --out")
        try:
            cfg = save(load_user_model(args.module, args.state_dict), args.out)
        except ExportError as e:
            print(f"export_torch.py: {e}", file=sys.stderr)
            return 1
        print(f"{args.module}: {cfg['kind']} -> {args.out}")
        return 0
    if args.state_dict:
        ap.error("--state-dict goes with --module")
    if not args.config or not args.out:
        ap.error("--config and --out are required (or --module, or --list)")
    torch.set_num_threads(1)  # same bytes on every run
    cfg = make_fixtures.config_by_name(args.config)
    fx = make_fixtures.build_fixture(cfg, args.seed)
    save(fx.module, args.out)
    if args.inputs and args.expected and os.path.abspath(args.inputs) == os.path.abspath(args.expected):
        save_tensors(args.inputs, {**fx.inputs, **fx.expected})
    else:
        if args.inputs:
            save_tensors(args.inputs, fx.inputs)
        if args.expected:
            save_tensors(args.expected, fx.expected)
    print(f"{args.config} seed {args.seed}: max|output| {fx.max_abs_output:.6g} -> {args.out}")
    return 0


if __name__ == "__main__":
    # Run main() from the importable module `export_torch`, the one make_fixtures uses: otherwise
    # its classes (Seq2SeqTransformer, ...) would be this __main__ copy's twins, not the same.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import export_torch

    sys.exit(export_torch.main())
