#!/usr/bin/env python3
"""Generate the PyTorch parity fixtures under test/fixtures/.

    /usr/bin/python3 tools/make_fixtures.py            # writes test/fixtures/*, then verifies them
    /usr/bin/python3 tools/make_fixtures.py --verify   # only re-checks the committed files

For each config of CONFIGS: <name>.model.safetensors (tools/export_torch.py save()) and
<name>.io.safetensors with the inputs, `output`, the per-head attention probabilities of every
MultiheadAttention as `<module path>.weights` [B, H, L, S] and every layer's / stack's output as
`<module path>.output`; plus index.json. Deterministic: seeded, eval(), one CPU thread.

Verification (always run after writing): each file is read back with export_torch.load_tensors,
the weights are loaded into a freshly built module, the forward is re-run on the stored inputs and
must reproduce output and captures bit for bit (on Debian's reference BLAS, which made them; under
another, e.g. OpenBLAS, to 1e-5 of each tensor's scale, and it says so: export_torch.reproduced);
config inference must give the stored config; no
NaN anywhere; and an independent float64 numpy implementation of the format (numpy_reference
below, written from docs/model-format.md alone) must agree with PyTorch.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from torch import Tensor, nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as ex  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")

# --------------------------------------------------------------------------------------------
# the config matrix
# --------------------------------------------------------------------------------------------
# model keys: E (d_model), H (nhead), F (dim_feedforward), enc, dec (layer counts), act
# ("relu" | "gelu" | "gelu_module" = nn.GELU() | "relu_module" = nn.ReLU()), pre (norm_first),
# bf (batch_first), eps, bias, norm (final norm for encoder/decoder kinds).
# data keys: B, S (source / encoder length), T (target length), src_scale (float src times this, default 1),
#   masks: {name: kind}
#   attention masks: causal (float 0/-inf), causal_bool, causal_float (causal + random finite),
#                    float (random finite), bool (random, key 0 never blocked)
#   key padding masks (bool): right (row 1, or row 0 when B = 1, pads its last ~L/3 keys; row 2
#                    pads its last key), scatter (same counts at random keys other than key 0),
#                    same (memory_key_padding_mask = src_key_padding_mask)


def _c(name, kind, description, **kw):
    base = dict(name=name, kind=kind, description=description, act="relu", pre=False, bf=False, eps=1e-5,
                bias=True, norm=True, enc=0, dec=0, masks={})
    base.update(kw)
    return base


CONFIGS: List[Dict[str, Any]] = [
    _c("post-relu-seqfirst", "transformer", "post-norm relu [L,B,E], causal tgt, right padding src/tgt/memory",
       E=24, H=3, F=48, enc=2, dec=2, B=2, S=7, T=5,
       masks=dict(tgt_mask="causal", src_key_padding_mask="right", tgt_key_padding_mask="right",
                  memory_key_padding_mask="same")),
    _c("pre-gelu-batchfirst", "transformer", "pre-norm gelu [B,L,E], E=40 H=5 F=37, bool src_mask, causal+random tgt_mask",
       E=40, H=5, F=37, enc=2, dec=1, act="gelu", pre=True, bf=True, B=3, S=16, T=7,
       masks=dict(src_mask="bool", tgt_mask="causal_float", src_key_padding_mask="right",
                  memory_key_padding_mask="scatter")),
    _c("post-gelu-batchfirst-h8", "transformer", "post-norm gelu [B,L,E], H=8, T>S, float memory_mask, bool causal tgt_mask",
       E=48, H=8, F=64, enc=1, dec=1, act="gelu", bf=True, B=2, S=7, T=16,
       masks=dict(tgt_mask="causal_bool", memory_mask="float")),
    _c("pre-relu-seqfirst-h2-eps1e-6", "transformer", "pre-norm relu [L,B,E], E=30 H=2, 3 enc + 1 dec layers, S=33 T=2, eps 1e-6",
       E=30, H=2, F=37, enc=3, dec=1, pre=True, eps=1e-6, B=1, S=33, T=2,
       masks=dict(tgt_mask="causal", src_key_padding_mask="right", memory_key_padding_mask="same")),
    _c("post-relu-h1-len1", "transformer", "single head, S=T=1, batch 3, module activation nn.ReLU()",
       E=24, H=1, F=40, enc=1, dec=2, act="relu_module", bf=True, B=3, S=1, T=1,
       masks=dict(tgt_mask="causal", memory_mask="float")),
    _c("len2-h8-seqfirst", "transformer", "S=T=2, E=16 H=8 (head dim 2), right padding of one key",
       E=16, H=8, F=24, enc=2, dec=2, B=2, S=2, T=2,
       masks=dict(tgt_mask="causal", src_key_padding_mask="right", tgt_key_padding_mask="right",
                  memory_key_padding_mask="same")),
    _c("nobias-post-relu-batchfirst", "transformer", "no biases anywhere, post-norm relu [B,L,E], H=4",
       E=24, H=4, F=37, enc=2, dec=2, bf=True, bias=False, B=2, S=7, T=7,
       masks=dict(tgt_mask="causal", src_key_padding_mask="right", memory_key_padding_mask="same")),
    _c("nobias-pre-gelu-seqfirst", "transformer", "no biases, pre-norm gelu [L,B,E], H=5, eps 1e-4, bool memory_mask",
       E=30, H=5, F=48, enc=1, dec=2, act="gelu", pre=True, eps=1e-4, bias=False, B=2, S=16, T=7,
       masks=dict(tgt_mask="causal", memory_mask="bool", tgt_key_padding_mask="right")),
    _c("bool-masks-eps1e-3", "transformer", "every mask bool: src/tgt(causal)/memory masks and all key padding masks",
       E=24, H=4, F=37, enc=2, dec=2, act="gelu", eps=1e-3, B=3, S=9, T=8,
       masks=dict(src_mask="bool", tgt_mask="causal_bool", memory_mask="bool", src_key_padding_mask="scatter",
                  tgt_key_padding_mask="right", memory_key_padding_mask="right")),
    _c("float-masks-pre-relu", "transformer", "every attention mask float (finite random, causal+random) with bool key padding",
       E=20, H=5, F=30, enc=2, dec=1, pre=True, bf=True, B=2, S=12, T=10,
       masks=dict(src_mask="float", tgt_mask="causal_float", memory_mask="float", src_key_padding_mask="right",
                  tgt_key_padding_mask="right", memory_key_padding_mask="same")),
    _c("long-post-relu-batchfirst", "transformer", "S=70 T=65, E=8 H=2, causal tgt, right padding src",
       E=8, H=2, F=17, enc=1, dec=1, bf=True, B=1, S=70, T=65,
       masks=dict(tgt_mask="causal", src_key_padding_mask="right", memory_key_padding_mask="same")),
    _c("long-pre-gelu-seqfirst", "transformer", "S=65 T=33, E=12 H=3, float src_mask, scattered src padding",
       E=12, H=3, F=20, enc=2, dec=1, act="gelu", pre=True, B=1, S=65, T=33,
       masks=dict(src_mask="float", tgt_mask="causal", src_key_padding_mask="scatter",
                  memory_key_padding_mask="same")),
    _c("encoder-post-relu-norm", "encoder", "TransformerEncoder with final norm, [B,L,E], H=2, padding (the 1.13 nested-tensor case)",
       E=24, H=2, F=48, enc=2, bf=True, norm=True, B=3, S=16,
       masks=dict(src_key_padding_mask="right")),
    _c("encoder-pre-gelu-nonorm", "encoder", "TransformerEncoder without final norm, pre-norm gelu [L,B,E], H=8, float mask",
       E=40, H=8, F=37, enc=3, act="gelu", pre=True, norm=False, B=2, S=7,
       masks=dict(src_mask="float", src_key_padding_mask="right")),
    _c("encoder-h5-boolmask-eps1e-6", "encoder", "TransformerEncoder, H=5, L=33, bool mask, eps 1e-6, module activation nn.GELU()",
       E=20, H=5, F=30, enc=1, act="gelu_module", bf=True, eps=1e-6, B=1, S=33,
       masks=dict(src_mask="bool")),
    _c("encoder-tinyvar-eps1e-6", "encoder", "pre-norm TransformerEncoder on src of scale 1e-3 (row variance ~1e-6, "
       "eps's size): a wrong layer-norm eps moves the output by far more than the tolerance",
       E=32, H=4, F=48, enc=2, act="gelu", pre=True, bf=True, eps=1e-6, norm=True, B=2, S=12, src_scale=1e-3,
       masks=dict(src_key_padding_mask="right")),
    _c("encoder-nobias-h3", "encoder", "TransformerEncoder without biases (final norm too), H=3, scattered padding",
       E=24, H=3, F=37, enc=2, bf=True, bias=False, B=2, S=16,
       masks=dict(src_key_padding_mask="scatter")),
    _c("decoder-post-relu-norm", "decoder", "TransformerDecoder with final norm, [B,L,E], causal, tgt and memory padding",
       E=24, H=3, F=40, dec=2, bf=True, B=2, S=16, T=7,
       masks=dict(tgt_mask="causal", tgt_key_padding_mask="right", memory_key_padding_mask="right")),
    _c("decoder-pre-gelu-nonorm", "decoder", "TransformerDecoder without final norm, pre-norm gelu [L,B,E], H=8, T=33",
       E=48, H=8, F=37, dec=1, act="gelu", pre=True, norm=False, B=2, S=7, T=33,
       masks=dict(tgt_mask="float", memory_mask="bool")),
    _c("seq2seq-sinusoidal", "seq2seq", "Seq2SeqTransformer, sinusoidal positions, embed_scale sqrt(E), [B,L] ids, padding",
       E=24, H=4, F=40, enc=2, dec=2, bf=True, B=3, S=9, T=8, positional="sinusoidal", max_len=32,
       masks=dict(tgt_mask="causal", src_key_padding_mask="right", tgt_key_padding_mask="right",
                  memory_key_padding_mask="same")),
    _c("lm-learned-causal", "lm", "EncoderLM, learned positions, causal, pre-norm gelu, [L,B] ids, padding",
       E=20, H=2, F=37, enc=2, act="gelu", pre=True, B=2, S=12, positional="learned", max_len=24,
       masks=dict(src_key_padding_mask="right")),
]

_ATTN_MASKS = ("src_mask", "tgt_mask", "memory_mask")
_KPMS = ("src_key_padding_mask", "tgt_key_padding_mask", "memory_key_padding_mask")
# the forward inputs each kind takes, in order
_KIND_INPUTS = {
    "transformer": ("src", "tgt") + _ATTN_MASKS + _KPMS,
    "encoder": ("src", "src_mask", "src_key_padding_mask"),
    "decoder": ("tgt", "memory", "tgt_mask", "memory_mask", "tgt_key_padding_mask", "memory_key_padding_mask"),
    "seq2seq": ("src", "tgt") + _ATTN_MASKS + _KPMS,
    "lm": ("src", "src_key_padding_mask"),
}

SPECIALS = ["<pad>", "<bos>", "<eos>"]


def config_by_name(name: str) -> Dict[str, Any]:
    for c in CONFIGS:
        if c["name"] == name:
            return c
    raise SystemExit(f"unknown config {name!r}; known: {', '.join(c['name'] for c in CONFIGS)}")


def default_seed(cfg: Dict[str, Any]) -> int:
    return zlib.crc32(cfg["name"].encode()) % 100003


# --------------------------------------------------------------------------------------------
# building a seeded module
# --------------------------------------------------------------------------------------------

def _activation(act: str):
    return {"relu": "relu", "gelu": "gelu", "relu_module": nn.ReLU(), "gelu_module": nn.GELU()}[act]


def _vocab(g: torch.Generator, n: int) -> List[str]:
    letters = [chr(ord("a") + i) for i in torch.randperm(26, generator=g)[:n].sort().values.tolist()]
    return SPECIALS + letters


def randomize_(module: nn.Module) -> nn.Module:
    """Re-draw every parameter (global RNG) so that no bias is zero and no LayerNorm is identity:
    matrices xavier-uniform (in_proj x1.5 for less uniform attention), embeddings N(0, 1),
    biases U(-0.2, 0.2), LayerNorm weights 1 + U(-0.25, 0.25)."""
    with torch.no_grad():
        for m in module.modules():
            for pname, p in m.named_parameters(recurse=False):
                if isinstance(m, nn.LayerNorm):
                    if pname == "weight":
                        p.uniform_(0.75, 1.25)
                    else:
                        p.uniform_(-0.2, 0.2)
                elif isinstance(m, nn.Embedding):
                    p.normal_(0.0, 1.0)
                elif p.dim() >= 2:
                    fan_out, fan_in = p.shape[0], p.shape[1]
                    if pname == "in_proj_weight":
                        fan_out //= 3
                    bound = math.sqrt(6.0 / (fan_in + fan_out)) * (1.5 if pname == "in_proj_weight" else 1.0)
                    p.uniform_(-bound, bound)
                else:
                    p.uniform_(-0.2, 0.2)
    return module


def build_module(cfg: Dict[str, Any], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 7)
    E, H, Fd, eps, bf, pre = cfg["E"], cfg["H"], cfg["F"], cfg["eps"], cfg["bf"], cfg["pre"]
    act = _activation(cfg["act"])
    kind = cfg["kind"]
    if kind == "transformer":
        m = nn.Transformer(E, H, cfg["enc"], cfg["dec"], Fd, 0.1, act, layer_norm_eps=eps, batch_first=bf,
                           norm_first=pre)
    elif kind == "encoder":
        layer = nn.TransformerEncoderLayer(E, H, Fd, 0.1, act, layer_norm_eps=eps, batch_first=bf, norm_first=pre)
        m = nn.TransformerEncoder(layer, cfg["enc"], nn.LayerNorm(E, eps=eps) if cfg["norm"] else None)
    elif kind == "decoder":
        layer = nn.TransformerDecoderLayer(E, H, Fd, 0.1, act, layer_norm_eps=eps, batch_first=bf, norm_first=pre)
        m = nn.TransformerDecoder(layer, cfg["dec"], nn.LayerNorm(E, eps=eps) if cfg["norm"] else None)
    elif kind == "seq2seq":
        m = ex.Seq2SeqTransformer(_vocab(g, 12), _vocab(g, 10), E, H, cfg["enc"], cfg["dec"], Fd, 0.1, act, eps, bf,
                                  pre, positional=cfg["positional"], max_len=cfg["max_len"],
                                  embed_scale=math.sqrt(E), pad_id=0, bos_id=1, eos_id=2, bias=cfg["bias"])
    elif kind == "lm":
        m = ex.EncoderLM(_vocab(g, 26), E, H, cfg["enc"], Fd, 0.1, act, eps, bf, pre, positional=cfg["positional"],
                         max_len=cfg["max_len"], embed_scale=1.0, causal=True, final_norm=cfg["norm"],
                         pad_id=0, bos_id=1, eos_id=2, bias=cfg["bias"])
    else:
        raise ValueError(kind)
    if not cfg["bias"] and kind in ("transformer", "encoder", "decoder"):
        ex.make_bias_free(m)
    randomize_(m)
    return m.eval()


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

def _pad_rows(B: int, L: int) -> List[int]:
    if L < 2:
        raise ValueError("key padding needs length >= 2 (a row must keep one key)")
    k = min(L - 1, L // 3 + 1)
    return [k] if B == 1 else ([0, k, 1] + [0] * B)[:B]


def _kpm(kind: str, B: int, L: int, g: torch.Generator) -> Tensor:
    m = torch.zeros(B, L, dtype=torch.bool)
    for b, n in enumerate(_pad_rows(B, L)):
        if n == 0:
            continue
        if kind == "right":
            m[b, L - n:] = True
        elif kind == "scatter":
            idx = 1 + torch.randperm(L - 1, generator=g)[:n]
            m[b, idx] = True
        else:
            raise ValueError(kind)
    return m


def _attn_mask(kind: str, L: int, S: int, g: torch.Generator) -> Tensor:
    if kind in ("causal", "causal_bool", "causal_float") and L != S:
        raise ValueError("causal masks must be square")
    if kind == "causal":
        return nn.Transformer.generate_square_subsequent_mask(L)
    if kind == "causal_bool":
        return torch.triu(torch.ones(L, S, dtype=torch.bool), diagonal=1)
    if kind == "causal_float":
        return nn.Transformer.generate_square_subsequent_mask(L) + torch.randn(L, S, generator=g)
    if kind == "float":
        return torch.randn(L, S, generator=g) * 1.5
    if kind == "bool":
        m = torch.rand(L, S, generator=g) < 0.35
        m[:, 0] = False  # with kpm never padding key 0, no row is fully blocked
        return m
    raise ValueError(kind)


def _layout(x: Tensor, bf: bool) -> Tensor:
    """[B, L, ...] -> the model's layout."""
    return x if bf else x.transpose(0, 1).contiguous()


def make_inputs(cfg: Dict[str, Any], seed: int, module: nn.Module) -> "OrderedDict[str, Tensor]":
    g = torch.Generator().manual_seed(seed + 1)
    kind, B, bf = cfg["kind"], cfg["B"], cfg["bf"]
    S, T, E = cfg["S"], cfg.get("T"), cfg["E"]
    masks = cfg["masks"]
    lens = {"src_key_padding_mask": S, "tgt_key_padding_mask": T, "memory_key_padding_mask": S}
    kpm: Dict[str, Tensor] = {}
    for name in _KPMS:
        if name in masks and masks[name] != "same":
            kpm[name] = _kpm(masks[name], B, lens[name], g)
    if masks.get("memory_key_padding_mask") == "same":
        kpm["memory_key_padding_mask"] = kpm["src_key_padding_mask"].clone()
    am_shape = {"src_mask": (S, S), "tgt_mask": (T, T), "memory_mask": (T, S)}
    am = {n: _attn_mask(masks[n], *am_shape[n], g) for n in _ATTN_MASKS if n in masks}

    data: Dict[str, Tensor] = {}
    if kind in ("transformer", "encoder"):
        data["src"] = _layout(torch.randn(B, S, E, generator=g) * cfg.get("src_scale", 1.0), bf)
    if kind in ("transformer", "decoder"):
        data["tgt"] = _layout(torch.randn(B, T, E, generator=g), bf)
    if kind == "decoder":
        data["memory"] = _layout(torch.randn(B, S, E, generator=g), bf)
    if kind in ("seq2seq", "lm"):
        vs = len(module.src_vocab) if kind == "seq2seq" else len(module.vocab)
        src = torch.randint(3, vs, (B, S), generator=g)
        if "src_key_padding_mask" in kpm:
            src[kpm["src_key_padding_mask"]] = module.pad_id
        data["src"] = _layout(src, bf)
        if kind == "seq2seq":
            tgt = torch.randint(3, len(module.tgt_vocab), (B, T), generator=g)
            tgt[:, 0] = module.bos_id
            if "tgt_key_padding_mask" in kpm:
                tgt[kpm["tgt_key_padding_mask"]] = module.pad_id
            data["tgt"] = _layout(tgt, bf)
    data.update(am)
    data.update(kpm)
    unknown = set(data) - set(_KIND_INPUTS[kind])
    if unknown:
        raise ValueError(f"{cfg['name']}: inputs {unknown} are not taken by kind {kind}")
    return OrderedDict((n, data[n]) for n in _KIND_INPUTS[kind] if n in data)


def forward(module: nn.Module, kind: str, inputs: Dict[str, Tensor]) -> Tensor:
    i = inputs.get
    if kind in ("transformer", "seq2seq"):
        return module(i("src"), i("tgt"), src_mask=i("src_mask"), tgt_mask=i("tgt_mask"),
                      memory_mask=i("memory_mask"), src_key_padding_mask=i("src_key_padding_mask"),
                      tgt_key_padding_mask=i("tgt_key_padding_mask"),
                      memory_key_padding_mask=i("memory_key_padding_mask"))
    if kind == "encoder":
        return module(i("src"), mask=i("src_mask"), src_key_padding_mask=i("src_key_padding_mask"))
    if kind == "decoder":
        return module(i("tgt"), i("memory"), tgt_mask=i("tgt_mask"), memory_mask=i("memory_mask"),
                      tgt_key_padding_mask=i("tgt_key_padding_mask"),
                      memory_key_padding_mask=i("memory_key_padding_mask"))
    if kind == "lm":
        return module(i("src"), src_key_padding_mask=i("src_key_padding_mask"))
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# running with captures
# --------------------------------------------------------------------------------------------

_CAPTURED_TYPES = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.TransformerEncoder,
                   nn.TransformerDecoder)


def capture_paths(module: nn.Module) -> List[str]:
    """Module paths captured, in named_modules() order: every MultiheadAttention (-> .weights) and
    every encoder/decoder layer and stack (-> .output), the root excluded."""
    return [p for p, m in module.named_modules()
            if p and isinstance(m, (nn.MultiheadAttention,) + _CAPTURED_TYPES)]


def run_captured(module: nn.Module, kind: str, inputs: Dict[str, Tensor]):
    """Forward on the regular path; returns (output, OrderedDict capture name -> tensor).

    torch 1.13 forward hooks do not see keyword arguments (attn_mask, key_padding_mask are passed
    by keyword), so each MultiheadAttention's forward is wrapped instead: it runs the call the
    layer made (need_weights=False), then recomputes it with need_weights=True,
    average_attn_weights=False on the same arguments and checks both attn_outputs are identical."""
    got: Dict[str, Tensor] = {}
    patched, handles = [], []
    for path, m in module.named_modules():
        if not path:
            continue
        if isinstance(m, nn.MultiheadAttention):
            def wrapped(*args, _orig=m.forward, _path=path, **kwargs):
                out = _orig(*args, **kwargs)
                kw = dict(kwargs, need_weights=True, average_attn_weights=False)
                out2, w = _orig(*args, **kw)
                if not torch.equal(out[0], out2):
                    raise RuntimeError(f"{_path}: recomputed attn_output differs from the layer's")
                if _path + ".weights" in got:
                    raise RuntimeError(f"{_path} ran twice")
                got[_path + ".weights"] = w.detach().clone()
                return out
            m.forward = wrapped
            patched.append(m)
        elif isinstance(m, _CAPTURED_TYPES):
            def hook(mod, inp, out, _path=path):
                got[_path + ".output"] = out.detach().clone()
            handles.append(m.register_forward_hook(hook))
    try:
        with ex.regular_path(module):
            out = forward(module, kind, inputs).detach().clone()
    finally:
        for m in patched:
            del m.forward
        for h in handles:
            h.remove()
    names = [p + (".weights" if isinstance(m, nn.MultiheadAttention) else ".output")
             for p, m in module.named_modules() if p in set(capture_paths(module))]
    missing = [n for n in names if n not in got]
    if missing:
        raise RuntimeError(f"not captured: {missing}")
    return out, OrderedDict((n, got[n]) for n in names)


@dataclass
class Fixture:
    cfg: Dict[str, Any]
    seed: int
    module: nn.Module
    inputs: "OrderedDict[str, Tensor]"
    expected: "OrderedDict[str, Tensor]"
    captures: List[str] = field(default_factory=list)

    @property
    def max_abs_output(self) -> float:
        return float(self.expected["output"].abs().max())


def build_fixture(cfg: Dict[str, Any], seed: Optional[int] = None) -> Fixture:
    seed = default_seed(cfg) if seed is None else seed
    module = build_module(cfg, seed)
    inputs = make_inputs(cfg, seed, module)
    out, caps = run_captured(module, cfg["kind"], inputs)
    expected = OrderedDict([("output", out)])
    expected.update(caps)
    for n, t in expected.items():
        if not torch.isfinite(t).all():
            raise RuntimeError(f"{cfg['name']}: {n} has non-finite values")
    return Fixture(cfg, seed, module, inputs, expected, capture_paths(module))


# --------------------------------------------------------------------------------------------
# independent numpy reference (float64), from the model file alone
# --------------------------------------------------------------------------------------------

_erf = np.vectorize(math.erf, otypes=[np.float64])


def numpy_reference(cfg: Dict[str, Any], W: Dict[str, np.ndarray], io: Dict[str, np.ndarray]):
    """The format's semantics in plain numpy. Returns (output in the model layout,
    {attention module path: probabilities [B, H, L, S]}, {stack/layer path: output})."""
    W = {k: v.astype(np.float64) for k, v in W.items()}
    E, H, bf, eps = cfg["d_model"], cfg["nhead"], cfg["batch_first"], cfg["layer_norm_eps"]
    D = E // H
    probs: Dict[str, np.ndarray] = {}
    outs: Dict[str, np.ndarray] = {}

    def lay(x):  # model layout <-> [B, L, ...]
        return x if bf else np.swapaxes(x, 0, 1)

    def linear(x, p):
        y = x @ W[p + "weight"].T
        return y + W[p + "bias"] if p + "bias" in W else y

    def norm(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        y = (x - mu) / np.sqrt(var + eps) * W[p + "weight"]
        return y + W[p + "bias"] if p + "bias" in W else y

    def act(x):
        return np.maximum(x, 0) if cfg["activation"] == "relu" else 0.5 * x * (1 + _erf(x / math.sqrt(2)))

    def mha(p, xq, xkv, mask, kpm):  # xq [B, L, E], xkv [B, S, E]
        w, b = W[p + "in_proj_weight"], W.get(p + "in_proj_bias")
        # in_proj_weight rows [0, E) project the query, [E, 2E) the key, [2E, 3E) the value
        qkv = [x @ w[i * E:(i + 1) * E].T + (b[i * E:(i + 1) * E] if b is not None else 0)
               for i, x in enumerate((xq, xkv, xkv))]
        q, k, v = [t.reshape(t.shape[0], t.shape[1], H, D).transpose(0, 2, 1, 3) for t in qkv]
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(D)  # [B, H, L, S]
        if mask is not None:  # [L, S]: bool/U8 -> -inf where set; float -> added
            s = np.where(mask.astype(bool), -np.inf, s) if mask.dtype == np.uint8 else s + mask
        if kpm is not None:  # [B, S] bool -> -inf where set
            s = np.where(kpm.astype(bool)[:, None, None, :], -np.inf, s)
        s = s - s.max(-1, keepdims=True)
        pr = np.exp(s)
        pr /= pr.sum(-1, keepdims=True)
        probs[p[:-1]] = pr
        o = (pr @ v).transpose(0, 2, 1, 3).reshape(xq.shape[0], xq.shape[1], E)
        return linear(o, p + "out_proj.")

    def enc_layer(p, x, mask, kpm):
        if cfg["norm_first"]:
            x = x + mha(p + "self_attn.", norm(x, p + "norm1."), norm(x, p + "norm1."), mask, kpm)
            x = x + linear(act(linear(norm(x, p + "norm2."), p + "linear1.")), p + "linear2.")
        else:
            x = norm(x + mha(p + "self_attn.", x, x, mask, kpm), p + "norm1.")
            x = norm(x + linear(act(linear(x, p + "linear1.")), p + "linear2."), p + "norm2.")
        outs[p[:-1]] = x
        return x

    def dec_layer(p, x, mem, tmask, mmask, tkpm, mkpm):
        if cfg["norm_first"]:
            h = norm(x, p + "norm1.")
            x = x + mha(p + "self_attn.", h, h, tmask, tkpm)
            x = x + mha(p + "multihead_attn.", norm(x, p + "norm2."), mem, mmask, mkpm)
            x = x + linear(act(linear(norm(x, p + "norm3."), p + "linear1.")), p + "linear2.")
        else:
            x = norm(x + mha(p + "self_attn.", x, x, tmask, tkpm), p + "norm1.")
            x = norm(x + mha(p + "multihead_attn.", x, mem, mmask, mkpm), p + "norm2.")
            x = norm(x + linear(act(linear(x, p + "linear1.")), p + "linear2."), p + "norm3.")
        outs[p[:-1]] = x
        return x

    def encoder(p, x, mask, kpm):
        for i in range(cfg["num_encoder_layers"]):
            x = enc_layer(f"{p}layers.{i}.", x, mask, kpm)
        if cfg["encoder_norm"]:
            x = norm(x, p + "norm.")
        if p:
            outs[p[:-1]] = x
        return x

    def decoder(p, x, mem, *masks):
        for i in range(cfg["num_decoder_layers"]):
            x = dec_layer(f"{p}layers.{i}.", x, mem, *masks)
        if cfg["decoder_norm"]:
            x = norm(x, p + "norm.")
        if p:
            outs[p[:-1]] = x
        return x

    def embed(table, ids):  # ids in the model layout -> [B, L, E]
        ids = lay(ids)
        L = ids.shape[1]
        x = W[table][ids] * cfg["embed_scale"]
        if cfg["positional"] == "learned":
            x = x + W["pos_embed.weight"][:L]
        elif cfg["positional"] == "sinusoidal":
            pos = np.arange(L, dtype=np.float64)[:, None]
            i2 = (np.arange(E) // 2 * 2)[None, :]
            ang = pos / np.power(10000.0, i2 / E)
            x = x + np.where(np.arange(E) % 2 == 0, np.sin(ang), np.cos(ang))
        return x

    g = io.get
    kind = cfg["kind"]
    if kind in ("transformer", "seq2seq"):
        pre = "transformer." if kind == "seq2seq" else ""
        if kind == "seq2seq":
            src, tgt = embed("src_embed.weight", g("src")), embed("tgt_embed.weight", g("tgt"))
        else:
            src, tgt = lay(g("src")).astype(np.float64), lay(g("tgt")).astype(np.float64)
        mem = encoder(pre + "encoder.", src, g("src_mask"), g("src_key_padding_mask"))
        y = decoder(pre + "decoder.", tgt, mem, g("tgt_mask"), g("memory_mask"), g("tgt_key_padding_mask"),
                    g("memory_key_padding_mask"))
        if kind == "seq2seq":
            y = linear(y, "generator.")
    elif kind == "encoder":
        y = encoder("", lay(g("src")).astype(np.float64), g("src_mask"), g("src_key_padding_mask"))
    elif kind == "decoder":
        y = decoder("", lay(g("tgt")).astype(np.float64), lay(g("memory")).astype(np.float64), g("tgt_mask"),
                    g("memory_mask"), g("tgt_key_padding_mask"), g("memory_key_padding_mask"))
    elif kind == "lm":
        x = embed("embed.weight", g("src"))
        L = x.shape[1]
        causal = np.triu(np.full((L, L), -np.inf), 1) if cfg["causal"] else None
        y = linear(encoder("encoder.", x, causal, g("src_key_padding_mask")), "head.")
    else:
        raise ValueError(kind)
    return lay(y), probs, outs


# --------------------------------------------------------------------------------------------
# writing and verifying
# --------------------------------------------------------------------------------------------

def _io_tensors(fx: Fixture) -> "OrderedDict[str, Tensor]":
    d = OrderedDict(fx.inputs)
    d.update(fx.expected)
    return d


def _describe(arr: np.ndarray) -> Dict[str, Any]:
    dt = {np.dtype("float32"): "F32", np.dtype("uint8"): "U8", np.dtype("int64"): "I64",
          np.dtype("int32"): "I32"}[np.dtype(arr.dtype.name)]
    return {"dtype": dt, "shape": [int(s) for s in arr.shape]}


def write_fixture(cfg: Dict[str, Any], out_dir: str) -> Dict[str, Any]:
    fx = build_fixture(cfg)
    name = cfg["name"]
    model_file, io_file = f"{name}.model.safetensors", f"{name}.io.safetensors"
    ex.save(fx.module, os.path.join(out_dir, model_file))
    ex.save_tensors(os.path.join(out_dir, io_file), _io_tensors(fx))
    io, _ = ex.load_tensors(os.path.join(out_dir, io_file))
    return OrderedDict(
        name=name, kind=cfg["kind"], description=cfg["description"], seed=fx.seed,
        model=model_file, io=io_file, inputs=list(fx.inputs), outputs=["output"], captures=fx.captures,
        tensors={n: _describe(a) for n, a in io.items()},
        max_abs_output=fx.max_abs_output, torch_version=torch.__version__,
    )


def _to_torch_inputs(io: Dict[str, np.ndarray], names: List[str]) -> Dict[str, Tensor]:
    out = {}
    for n in names:
        a = io[n]
        t = torch.from_numpy(np.array(a))
        out[n] = t.to(torch.bool) if a.dtype == np.uint8 else t
    return out


def verify_fixture(entry: Dict[str, Any], out_dir: str) -> Dict[str, float]:
    cfg = config_by_name(entry["name"])
    mcfg, W = ex.load_model_file(os.path.join(out_dir, entry["model"]))
    io, io_meta = ex.load_tensors(os.path.join(out_dir, entry["io"]))
    if io_meta:
        raise AssertionError(f"{entry['name']}: io file has metadata {io_meta}")
    for n, a in list(W.items()) + list(io.items()):
        if a.dtype == np.float32:
            if np.isnan(a).any():
                raise AssertionError(f"{entry['name']}: {n} has NaN")
            if np.isinf(a).any() and n not in _ATTN_MASKS:
                raise AssertionError(f"{entry['name']}: {n} has inf")
    # the module rebuilt (vocabularies come from the seed), its weights re-drawn, then loaded
    # from the file -> must reproduce everything bit for bit
    module = build_module(cfg, entry["seed"])
    randomize_(module)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in W.items()}
    module.load_state_dict(sd, strict=True)
    module.eval()
    if ex.infer_config(module) != mcfg:
        raise AssertionError(f"{entry['name']}: stored config differs from the module's: {mcfg}")
    inputs = _to_torch_inputs(io, entry["inputs"])
    out, caps = run_captured(module, cfg["kind"], inputs)
    got = OrderedDict([("output", out)])
    got.update(caps)
    expected_names = entry["inputs"] + ["output"] + [
        n for n in got if n != "output"]
    if sorted(io) != sorted(expected_names):
        raise AssertionError(f"{entry['name']}: io tensors {sorted(io)} != {sorted(expected_names)}")
    drift = max(ex.reproduced(f"{entry['name']}: {n}", t.numpy(), io[n]) for n, t in got.items())
    # independent float64 reference from the file alone
    y, probs, outs = numpy_reference(mcfg, W, io)
    scale = max(1.0, float(np.abs(io["output"]).max()))
    err_out = float(np.abs(y - io["output"]).max()) / scale
    err_p = max(float(np.abs(probs[n[:-len(".weights")]] - io[n]).max()) for n in io if n.endswith(".weights"))
    err_l = 0.0
    for n in io:
        if n.endswith(".output"):
            path = n[:-len(".output")]
            ref = outs[path] if path in outs else None
            if ref is None:
                raise AssertionError(f"{entry['name']}: reference has no {path}")
            err_l = max(err_l, float(np.abs(lay_to(ref, mcfg["batch_first"]) - io[n]).max())
                        / max(1.0, float(np.abs(io[n]).max())))
    if err_out > 1e-4 or err_p > 5e-5 or err_l > 1e-4:
        raise AssertionError(f"{entry['name']}: numpy reference disagrees: output {err_out:.3g}, "
                             f"probs {err_p:.3g}, layers {err_l:.3g}")
    return {"output": err_out, "probs": err_p, "layers": err_l, "drift": drift}


def lay_to(x: np.ndarray, bf: bool) -> np.ndarray:
    return x if bf else np.swapaxes(x, 0, 1)


def _index_json(index: List[Dict[str, Any]]) -> str:
    """indent=1 JSON with number arrays and {dtype, shape} objects kept on one line."""
    text = json.dumps(index, indent=1)
    text = re.sub(r"\[\s*([-\d.e, \n]*?)\s*\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",") if x.strip()) + "]", text)
    text = re.sub(r'\{\s*"dtype": ("\w+"),\s*"shape": (\[[^\]]*\])\s*\}', r'{"dtype": \1, "shape": \2}', text)
    return text + "\n"


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--verify", action="store_true", help="only verify the files already there")
    ap.add_argument("--only", nargs="*", help="config names (default: all)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    index_path = os.path.join(args.out, "index.json")
    if args.verify:
        with open(index_path) as f:
            index = json.load(f)
    else:
        cfgs = [config_by_name(n) for n in args.only] if args.only else CONFIGS
        index = [write_fixture(c, args.out) for c in cfgs]
        if not args.only:
            with open(index_path, "w") as f:
                f.write(_index_json(index))
    total = 0
    for e in index:
        if args.only and e["name"] not in args.only:
            continue
        errs = verify_fixture(e, args.out)
        size = sum(os.path.getsize(os.path.join(args.out, e[k])) for k in ("model", "io"))
        total += size
        print(f"{e['name']:32s} {size / 1024:7.1f} KiB  max|out| {e['max_abs_output']:8.4f}  "
              f"vs f64 ref: out {errs['output']:.1e} probs {errs['probs']:.1e} layers {errs['layers']:.1e}")
        if errs["drift"]:
            print(ex.not_bit_for_bit(errs["drift"]))
    print(f"total {total / 1024:.1f} KiB in {len(index)} fixtures -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
