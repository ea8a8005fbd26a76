#!/usr/bin/env python3
"""Plain-torch reference of four Hugging Face model families, and the fixtures the HF loader is tested on.

    /usr/bin/python3 tools/hf_reference.py test/fixtures/hf          # write every case, then self-check
    /usr/bin/python3 tools/hf_reference.py test/fixtures/hf --verify # only re-check the committed files

No `transformers`, no `safetensors` package: the models below are ports, written from Hugging Face's modeling
code (read, not imported), with comments naming the HF file and class/function each part mirrors. Inference
semantics: eval mode (every dropout is the identity), eager attention ("output_attentions=True" path), no
head_mask, no past_key_values, float32 compute.

Families (HF class -> function here):
  GPT2Model / GPT2LMHeadModel              gpt2_forward      models/gpt2/modeling_gpt2.py
  BertModel / BertForMaskedLM              bert_forward      models/bert/modeling_bert.py
  RobertaModel / RobertaForMaskedLM        bert_forward      models/roberta/modeling_roberta.py (roberta=True)
  DistilBertModel / DistilBertForMaskedLM  distilbert_forward models/distilbert/modeling_distilbert.py

Every forward takes a flat parameter dict named exactly like HF's state_dict (with or without the base-model
prefix, chosen by `prefix`) and returns (first output, {"<HF module path>.weights": attention probs [B, H, L, S]}).

Files per case directory (see docs/hf-reference.md for the layout and the list of cases):
  config.json, model.safetensors (or model-0000k-of-00002.safetensors + model.safetensors.index.json),
  io.safetensors, and for two cases tokenizer.json + tokenizer_config.json + tokenizer_expect.json.
Deterministic: seeded, one CPU thread; a re-run rewrites the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import struct
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

torch.set_num_threads(1)

# The value HF writes into config.json; nominal (the semantics followed are documented per function).
TRANSFORMERS_VERSION = "4.44.2"

# ============================================================================================================
# safetensors (format: u64 little-endian header length N, N bytes of JSON header
#   {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the raw
#   little-endian tensor bytes; offsets are relative to the end of the header)
# ============================================================================================================

ST_DTYPES = {
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
TORCH_TO_ST = {v[0]: k for k, v in ST_DTYPES.items()}


def tensor_bytes(t: Tensor) -> bytes:
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the 16 bits
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    a = t.numpy()
    return a.astype(a.dtype.newbyteorder("<")).tobytes()


def st_write(path: str, tensors: Dict[str, Tensor], metadata: Optional[Dict[str, str]] = None) -> None:
    """Write a .safetensors file. Data ordered as the `safetensors` library does (larger dtype first, then name);
    the header is padded with spaces to a multiple of 8 bytes (also as that library does)."""
    names = sorted(tensors, key=lambda n: (-ST_DTYPES[TORCH_TO_ST[tensors[n].dtype]][1], n))
    header: "OrderedDict[str, object]" = OrderedDict()
    if metadata is not None:
        header["__metadata__"] = OrderedDict((str(k), str(v)) for k, v in metadata.items())
    blobs, offset = [], 0
    for n in names:
        t = tensors[n]
        b = tensor_bytes(t)
        header[n] = OrderedDict(dtype=TORCH_TO_ST[t.dtype], shape=list(t.shape), data_offsets=[offset, offset + len(b)])
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def st_read(path: str) -> Tuple["OrderedDict[str, Tensor]", Dict[str, str]]:
    """Read a .safetensors file (strict: known dtypes, offsets contiguous and in bounds, sizes match shapes)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out: "OrderedDict[str, Tensor]" = OrderedDict()
    spans = []
    for name, info in header.items():
        dt, size = ST_DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        shape = [int(s) for s in info["shape"]]
        assert 0 <= b <= e <= len(body), f"{path}: {name} out of bounds"
        assert e - b == size * int(np.prod(shape, dtype=np.int64)), f"{path}: {name} size mismatch"
        spans.append((b, e))
        raw = body[b:e]
        if dt == torch.bfloat16:
            t = torch.from_numpy(np.frombuffer(raw, dtype="<i2").copy()).view(torch.bfloat16)
        elif dt == torch.bool:
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy()).to(torch.bool)
        else:
            npdt = {torch.float32: "<f4", torch.float16: "<f2", torch.int64: "<i8", torch.int32: "<i4",
                    torch.uint8: "u1"}[dt]
            t = torch.from_numpy(np.frombuffer(raw, dtype=npdt).copy())
        out[name] = t.reshape(shape)
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, f"{path}: hole or overlap in the data section at {pos}"
        pos = e
    assert pos == len(body), f"{path}: trailing bytes"
    return out, meta


def load_checkpoint(case_dir: str) -> Tuple[dict, "OrderedDict[str, Tensor]"]:
    """config.json + model.safetensors, or the sharded form through model.safetensors.index.json."""
    with open(os.path.join(case_dir, "config.json")) as f:
        cfg = json.load(f)
    single = os.path.join(case_dir, "model.safetensors")
    if os.path.exists(single):
        sd, _ = st_read(single)
        return cfg, sd
    with open(os.path.join(case_dir, "model.safetensors.index.json")) as f:
        index = json.load(f)
    sd: "OrderedDict[str, Tensor]" = OrderedDict()
    for shard in sorted(set(index["weight_map"].values())):
        part, _ = st_read(os.path.join(case_dir, shard))
        for k, v in part.items():
            assert index["weight_map"][k] == shard
            sd[k] = v
    assert set(sd) == set(index["weight_map"])
    return cfg, sd


# ============================================================================================================
# shared pieces
# ============================================================================================================


def conv1d(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """pytorch_utils.py Conv1D.forward: weight stored [in, out] (transposed vs nn.Linear);
    y = addmm(bias, x.view(-1, in), weight).view(..., out)."""
    size_out = x.shape[:-1] + (w.shape[1],)
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(size_out)


def gelu_new(x: Tensor) -> Tensor:
    """activations.py NewGELUActivation ("gelu_new", GPT-2's default): the tanh approximation,
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu(x: Tensor) -> Tensor:
    """activations.py GELUActivation ("gelu"): exact erf GELU = nn.functional.gelu."""
    return F.gelu(x)


# activations.py ACT2FN, the entries these families use ("gelu_pytorch_tanh" is torch's own tanh approximation).
ACT2FN = {
    "gelu": gelu,
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


def layer_norm(x: Tensor, P: dict, name: str, eps: float) -> Tensor:
    return F.layer_norm(x, (x.shape[-1],), P[name + ".weight"], P[name + ".bias"], eps)


def linear(x: Tensor, P: dict, name: str) -> Tensor:
    return F.linear(x, P[name + ".weight"], P[name + ".bias"])


def split_heads(x: Tensor, heads: int) -> Tensor:
    """[B, L, E] -> [B, H, L, E/H] (GPT2Attention._split_heads / BertSelfAttention.transpose_for_scores)."""
    B, L, E = x.shape
    return x.view(B, L, heads, E // heads).permute(0, 2, 1, 3)


def merge_heads(x: Tensor) -> Tensor:
    """[B, H, L, D] -> [B, L, H*D] (GPT2Attention._merge_heads)."""
    B, H, L, D = x.shape
    return x.permute(0, 2, 1, 3).contiguous().view(B, L, H * D)


def keep(attns: dict, name: str, probs: Tensor) -> None:
    """Record one layer's attention probabilities; retain_grad so a backward can read d(target)/d(probs)."""
    if probs.requires_grad:
        probs.retain_grad()
    attns[name] = probs


# ============================================================================================================
# GPT-2  (models/gpt2/modeling_gpt2.py, the eager path taken when output_attentions=True)
# ============================================================================================================


def gpt2_forward(P: dict, cfg: dict, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 position_ids: Optional[Tensor] = None, prefix: str = "transformer.", lm_head: bool = True,
                 cache: Optional[List[Tuple[Tensor, Tensor]]] = None) -> Tuple[Tensor, "OrderedDict[str, Tensor]"]:
    """cache: HF's past_key_values (legacy tuple form), one (key, value) [B, H, P, D] per layer for the P earlier
    positions (P may be 0); each entry is replaced by the layer's present (past and new keys/values, [B, H, P+L, D]),
    as use_cache=True returns it. Without it, P = 0 and nothing is kept."""
    E, H, nl = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg["layer_norm_epsilon"]
    act = ACT2FN[cfg["activation_function"]]
    dtype = P[prefix + "wte.weight"].dtype
    fmin = torch.finfo(dtype).min
    B, L = input_ids.shape

    # GPT2Model.forward: with no past, position_ids default to arange(0, L) for every row -- the attention_mask
    # is NOT consulted, so a left-padded row's first real token sits at position (number of pads). Only
    # GPT2LMHeadModel.prepare_inputs_for_generation (generate) builds cumsum(mask) - 1 with pads set to 1.
    # With a past, GPT2Model.forward starts the default positions at past_length.
    past = cache[0][0].shape[-2] if cache is not None else 0
    if position_ids is None:
        position_ids = torch.arange(past, past + L, dtype=torch.long).unsqueeze(0)

    # GPT2Model.forward (eager branch): 2-D mask -> [B, 1, 1, S], (1 - mask) * finfo(dtype).min, ADDED to the scores
    # after the causal torch.where. A key that is both in the future and padding gets min + min = -inf (f32 overflow).
    ext = None
    if attention_mask is not None:
        ext = attention_mask.view(B, -1)[:, None, None, :].to(dtype)
        ext = (1.0 - ext) * fmin

    # GPT2Model.forward: inputs_embeds = wte(input_ids); + wpe(position_ids); dropout (identity)
    h = F.embedding(input_ids, P[prefix + "wte.weight"]) + F.embedding(position_ids, P[prefix + "wpe.weight"])

    # GPT2Attention.__init__ buffer `bias`: tril(ones(n_positions, n_positions)) as bool; _attn slices
    # bias[:, :, k - q : k, :k] (k = past + q)
    S = past + L
    causal = torch.tril(torch.ones((S, S), dtype=torch.bool))[past:].view(1, 1, L, S)
    attns: "OrderedDict[str, Tensor]" = OrderedDict()
    for i in range(nl):
        p = f"{prefix}h.{i}."
        # GPT2Block.forward: pre-norm; residual around attn and mlp
        residual = h
        x = layer_norm(h, P, p + "ln_1", eps)
        # GPT2Attention.forward: c_attn -> split(E) into q, k, v -> _split_heads
        q, k, v = conv1d(x, P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"]).split(E, dim=2)
        q, k, v = split_heads(q, H), split_heads(k, H), split_heads(v, H)
        if cache is not None:  # GPT2Attention.forward with layer_past and use_cache
            k, v = torch.cat((cache[i][0], k), dim=-2), torch.cat((cache[i][1], v), dim=-2)
            cache[i] = (k, v)
        # GPT2Attention._attn (scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False,
        # reorder_and_upcast_attn=False): scores / sqrt(head_dim) as a 0-dim tensor of the scores' dtype
        w = torch.matmul(q, k.transpose(-1, -2))
        w = w / torch.full([], v.size(-1) ** 0.5, dtype=w.dtype)
        w = torch.where(causal, w, torch.full([], fmin, dtype=w.dtype))
        if ext is not None:
            w = w + ext
        w = F.softmax(w, dim=-1)
        keep(attns, p + "attn.weights", w)
        a = merge_heads(torch.matmul(w, v))
        a = conv1d(a, P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"])
        h = a + residual
        residual = h
        x = layer_norm(h, P, p + "ln_2", eps)
        # GPT2MLP.forward: c_fc -> act (config.activation_function) -> c_proj
        x = conv1d(x, P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"])
        x = conv1d(act(x), P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"])
        h = residual + x
    h = layer_norm(h, P, prefix + "ln_f", eps)
    if not lm_head:
        return h, attns
    # GPT2LMHeadModel: lm_head = nn.Linear(n_embd, vocab, bias=False) tied to transformer.wte.weight
    return F.linear(h, P[prefix + "wte.weight"]), attns


def gpt2_param_shapes(cfg: dict, prefix: str) -> List[Tuple[str, Tuple[int, ...], str]]:
    """state_dict order of GPT2Model (parameters only; the attn.bias / attn.masked_bias buffers are
    persistent=False in current HF, so save_pretrained does not write them)."""
    E, nl, V, Pn = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    I = cfg["n_inner"] or 4 * E
    out = [(prefix + "wte.weight", (V, E), "emb"), (prefix + "wpe.weight", (Pn, E), "emb")]
    for i in range(nl):
        p = f"{prefix}h.{i}."
        out += [(p + "ln_1.weight", (E,), "ln_w"), (p + "ln_1.bias", (E,), "ln_b"),
                (p + "attn.c_attn.weight", (E, 3 * E), "conv"), (p + "attn.c_attn.bias", (3 * E,), "bias"),
                (p + "attn.c_proj.weight", (E, E), "conv"), (p + "attn.c_proj.bias", (E,), "bias"),
                (p + "ln_2.weight", (E,), "ln_w"), (p + "ln_2.bias", (E,), "ln_b"),
                (p + "mlp.c_fc.weight", (E, I), "conv"), (p + "mlp.c_fc.bias", (I,), "bias"),
                (p + "mlp.c_proj.weight", (I, E), "conv"), (p + "mlp.c_proj.bias", (E,), "bias")]
    out += [(prefix + "ln_f.weight", (E,), "ln_w"), (prefix + "ln_f.bias", (E,), "ln_b")]
    return out


def gpt2_config(arch: str, E: int, H: int, nl: int, V: int, Pn: int, dtype: str) -> dict:
    # configuration_gpt2.py GPT2Config: attribute_map hidden_size->n_embd, num_attention_heads->n_head,
    # num_hidden_layers->n_layer, max_position_embeddings->n_positions
    return {
        "activation_function": "gelu_new", "architectures": [arch], "attn_pdrop": 0.1, "bos_token_id": V - 1,
        "embd_pdrop": 0.1, "eos_token_id": V - 1, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2", "n_embd": E, "n_head": H, "n_inner": None, "n_layer": nl, "n_positions": Pn,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "torch_dtype": dtype, "transformers_version": TRANSFORMERS_VERSION, "use_cache": True, "vocab_size": V,
    }


# ============================================================================================================
# BERT and RoBERTa  (models/bert/modeling_bert.py, models/roberta/modeling_roberta.py; eager attention)
# ============================================================================================================


def roberta_position_ids(input_ids: Tensor, padding_idx: int) -> Tensor:
    """modeling_roberta.py create_position_ids_from_input_ids: positions count non-padding tokens from
    padding_idx + 1; padding tokens get padding_idx. Decided by input_ids == pad_token_id, NOT by attention_mask."""
    mask = input_ids.ne(padding_idx).int()
    incremental = torch.cumsum(mask, dim=1).type_as(mask) * mask
    return incremental.long() + padding_idx


def extended_attention_mask(attention_mask: Optional[Tensor], B: int, L: int, dtype: torch.dtype) -> Tensor:
    """modeling_utils.py ModuleUtilsMixin.get_extended_attention_mask (encoder, 2-D mask): [B, 1, 1, S],
    (1 - mask) * finfo(dtype).min, added to the scores. No mask given -> BertModel.forward uses ones."""
    if attention_mask is None:
        attention_mask = torch.ones((B, L), dtype=torch.long)
    ext = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - ext) * torch.finfo(dtype).min


def bert_forward(P: dict, cfg: dict, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                 token_type_ids: Optional[Tensor] = None, prefix: str = "bert.", head: Optional[str] = "mlm",
                 roberta: bool = False) -> Tuple[Tensor, "OrderedDict[str, Tensor]", Optional[Tensor]]:
    """head: "mlm" (BertForMaskedLM / RobertaForMaskedLM: logits), None (BertModel / RobertaModel:
    last_hidden_state; pooler_output returned third when the pooler weights exist)."""
    Hd, H, nl = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    eps, pad = cfg["layer_norm_eps"], cfg["pad_token_id"]
    act = ACT2FN[cfg["hidden_act"]]
    dtype = P[prefix + "embeddings.word_embeddings.weight"].dtype
    B, L = input_ids.shape
    e = prefix + "embeddings."

    # BertEmbeddings.forward / RobertaEmbeddings.forward
    if roberta:
        position_ids = roberta_position_ids(input_ids, pad)
    else:
        position_ids = torch.arange(L, dtype=torch.long).unsqueeze(0)  # the position_ids buffer sliced [:, :L]
    if token_type_ids is None:
        token_type_ids = torch.zeros((B, L), dtype=torch.long)  # the zero token_type_ids buffer
    # nn.Embedding(padding_idx=pad_token_id): same lookup; the padding row just gets no gradient
    x = F.embedding(input_ids, P[e + "word_embeddings.weight"], padding_idx=pad)
    x = x + F.embedding(token_type_ids, P[e + "token_type_embeddings.weight"])
    # RobertaEmbeddings.position_embeddings also has padding_idx=pad_token_id
    x = x + F.embedding(position_ids, P[e + "position_embeddings.weight"], padding_idx=pad if roberta else None)
    h = layer_norm(x, P, e + "LayerNorm", eps)

    ext = extended_attention_mask(attention_mask, B, L, dtype)
    attns: "OrderedDict[str, Tensor]" = OrderedDict()
    d = Hd // H
    for i in range(nl):
        p = f"{prefix}encoder.layer.{i}."
        # BertSelfAttention.forward (absolute positions, not a decoder)
        q = split_heads(linear(h, P, p + "attention.self.query"), H)
        k = split_heads(linear(h, P, p + "attention.self.key"), H)
        v = split_heads(linear(h, P, p + "attention.self.value"), H)
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        s = s + ext
        probs = F.softmax(s, dim=-1)
        keep(attns, p + "attention.self.weights", probs)
        ctx = merge_heads(torch.matmul(probs, v))
        # BertSelfOutput.forward: LayerNorm(dense(ctx) + input)
        a = layer_norm(linear(ctx, P, p + "attention.output.dense") + h, P, p + "attention.output.LayerNorm", eps)
        # BertIntermediate (dense + hidden_act) and BertOutput (LayerNorm(dense(.) + attention_output))
        m = act(linear(a, P, p + "intermediate.dense"))
        h = layer_norm(linear(m, P, p + "output.dense") + a, P, p + "output.LayerNorm", eps)

    pooled = None
    if prefix + "pooler.dense.weight" in P:
        # BertPooler.forward: tanh(dense(first token))
        pooled = torch.tanh(linear(h[:, 0], P, prefix + "pooler.dense"))
    if head is None:
        return h, attns, pooled
    if roberta:
        # RobertaLMHead.forward: dense -> gelu (the exact erf one, hard-wired, not config.hidden_act) ->
        # layer_norm (eps = layer_norm_eps) -> decoder (tied to word embeddings) + bias
        t = gelu(linear(h, P, "lm_head.dense"))
        t = layer_norm(t, P, "lm_head.layer_norm", eps)
        logits = F.linear(t, P[e + "word_embeddings.weight"], P["lm_head.bias"])
    else:
        # BertOnlyMLMHead -> BertLMPredictionHead: transform (BertPredictionHeadTransform: dense ->
        # ACT2FN[hidden_act] -> LayerNorm) -> decoder (tied to word embeddings, bias = cls.predictions.bias)
        t = act(linear(h, P, "cls.predictions.transform.dense"))
        t = layer_norm(t, P, "cls.predictions.transform.LayerNorm", eps)
        logits = F.linear(t, P[e + "word_embeddings.weight"], P["cls.predictions.bias"])
    return logits, attns, pooled


def bert_param_shapes(cfg: dict, prefix: str, pooler: bool, mlm: Optional[str]) -> List[Tuple[str, tuple, str]]:
    """state_dict order of BertModel (+ pooler) and of the MLM head (mlm: "bert" | "roberta" | None)."""
    Hd, nl, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    I, Pn, T = cfg["intermediate_size"], cfg["max_position_embeddings"], cfg["type_vocab_size"]
    e = prefix + "embeddings."
    out = [(e + "word_embeddings.weight", (V, Hd), "emb"), (e + "position_embeddings.weight", (Pn, Hd), "emb"),
           (e + "token_type_embeddings.weight", (T, Hd), "emb"),
           (e + "LayerNorm.weight", (Hd,), "ln_w"), (e + "LayerNorm.bias", (Hd,), "ln_b")]
    for i in range(nl):
        p = f"{prefix}encoder.layer.{i}."
        for n in ("query", "key", "value"):
            out += [(p + f"attention.self.{n}.weight", (Hd, Hd), "lin"), (p + f"attention.self.{n}.bias", (Hd,), "bias")]
        out += [(p + "attention.output.dense.weight", (Hd, Hd), "lin"), (p + "attention.output.dense.bias", (Hd,), "bias"),
                (p + "attention.output.LayerNorm.weight", (Hd,), "ln_w"),
                (p + "attention.output.LayerNorm.bias", (Hd,), "ln_b"),
                (p + "intermediate.dense.weight", (I, Hd), "lin"), (p + "intermediate.dense.bias", (I,), "bias"),
                (p + "output.dense.weight", (Hd, I), "lin"), (p + "output.dense.bias", (Hd,), "bias"),
                (p + "output.LayerNorm.weight", (Hd,), "ln_w"), (p + "output.LayerNorm.bias", (Hd,), "ln_b")]
    if pooler:
        out += [(prefix + "pooler.dense.weight", (Hd, Hd), "lin"), (prefix + "pooler.dense.bias", (Hd,), "bias")]
    if mlm == "bert":
        out += [("cls.predictions.bias", (V,), "bias"),
                ("cls.predictions.transform.dense.weight", (Hd, Hd), "lin"),
                ("cls.predictions.transform.dense.bias", (Hd,), "bias"),
                ("cls.predictions.transform.LayerNorm.weight", (Hd,), "ln_w"),
                ("cls.predictions.transform.LayerNorm.bias", (Hd,), "ln_b")]
    elif mlm == "roberta":
        out += [("lm_head.bias", (V,), "bias"), ("lm_head.dense.weight", (Hd, Hd), "lin"),
                ("lm_head.dense.bias", (Hd,), "bias"), ("lm_head.layer_norm.weight", (Hd,), "ln_w"),
                ("lm_head.layer_norm.bias", (Hd,), "ln_b")]
    return out


def bert_config(arch: str, Hd: int, H: int, nl: int, I: int, V: int, Pn: int, dtype: str,
                roberta: bool = False) -> dict:
    cfg = {
        "architectures": [arch], "attention_probs_dropout_prob": 0.1, "classifier_dropout": None,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": Hd, "initializer_range": 0.02,
        "intermediate_size": I, "layer_norm_eps": 1e-12, "max_position_embeddings": Pn, "model_type": "bert",
        "num_attention_heads": H, "num_hidden_layers": nl, "pad_token_id": 0, "position_embedding_type": "absolute",
        "torch_dtype": dtype, "transformers_version": TRANSFORMERS_VERSION, "type_vocab_size": 2, "use_cache": True,
        "vocab_size": V,
    }
    if roberta:  # roberta-base's config values for these keys
        cfg.update({"model_type": "roberta", "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1,
                    "type_vocab_size": 1, "layer_norm_eps": 1e-05})
    return cfg


# ============================================================================================================
# DistilBERT  (models/distilbert/modeling_distilbert.py; eager MultiHeadSelfAttention)
# ============================================================================================================


def distilbert_forward(P: dict, cfg: dict, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                       prefix: str = "distilbert.", mlm: bool = True) -> Tuple[Tensor, "OrderedDict[str, Tensor]"]:
    D, H, nl = cfg["dim"], cfg["n_heads"], cfg["n_layers"]
    act = ACT2FN[cfg["activation"]]
    eps = 1e-12  # every DistilBERT LayerNorm is built with eps=1e-12, hard-coded (no config key)
    dtype = P[prefix + "embeddings.word_embeddings.weight"].dtype
    B, L = input_ids.shape
    e = prefix + "embeddings."
    # Embeddings.forward: word (padding_idx=pad_token_id) + position (arange) -> LayerNorm; no token types
    x = F.embedding(input_ids, P[e + "word_embeddings.weight"], padding_idx=cfg["pad_token_id"])
    x = x + F.embedding(torch.arange(L).unsqueeze(0), P[e + "position_embeddings.weight"])
    h = layer_norm(x, P, e + "LayerNorm", eps)
    if attention_mask is None:  # DistilBertModel.forward: ones
        attention_mask = torch.ones((B, L), dtype=torch.long)
    masked = (attention_mask == 0).view(B, 1, 1, L)
    attns: "OrderedDict[str, Tensor]" = OrderedDict()
    dph = D // H
    for i in range(nl):
        p = f"{prefix}transformer.layer.{i}."
        # MultiHeadSelfAttention.forward: q is divided by sqrt(dim_per_head) BEFORE q @ k^T; padding keys are
        # masked_fill'ed (replaced, not added) with finfo(dtype).min
        q = split_heads(linear(h, P, p + "attention.q_lin"), H)
        k = split_heads(linear(h, P, p + "attention.k_lin"), H)
        v = split_heads(linear(h, P, p + "attention.v_lin"), H)
        q = q / math.sqrt(dph)
        s = torch.matmul(q, k.transpose(2, 3))
        s = s.masked_fill(masked.expand_as(s), torch.tensor(torch.finfo(s.dtype).min))
        w = F.softmax(s, dim=-1)
        keep(attns, p + "attention.weights", w)
        ctx = linear(merge_heads(torch.matmul(w, v)), P, p + "attention.out_lin")
        # TransformerBlock.forward: post-norm
        sa = layer_norm(ctx + h, P, p + "sa_layer_norm", eps)
        f = linear(act(linear(sa, P, p + "ffn.lin1")), P, p + "ffn.lin2")  # FFN.ff_chunk
        h = layer_norm(f + sa, P, p + "output_layer_norm", eps)
    if not mlm:
        return h, attns
    # DistilBertForMaskedLM.forward: vocab_transform -> activation -> vocab_layer_norm -> vocab_projector
    # (weight tied to word_embeddings, own bias)
    t = act(linear(h, P, "vocab_transform"))
    t = layer_norm(t, P, "vocab_layer_norm", eps)
    return F.linear(t, P[e + "word_embeddings.weight"], P["vocab_projector.bias"]), attns


def distilbert_param_shapes(cfg: dict, prefix: str, mlm: bool) -> List[Tuple[str, tuple, str]]:
    D, nl, V, Pn, I = cfg["dim"], cfg["n_layers"], cfg["vocab_size"], cfg["max_position_embeddings"], cfg["hidden_dim"]
    e = prefix + "embeddings."
    out = [(e + "word_embeddings.weight", (V, D), "emb"), (e + "position_embeddings.weight", (Pn, D), "emb"),
           (e + "LayerNorm.weight", (D,), "ln_w"), (e + "LayerNorm.bias", (D,), "ln_b")]
    for i in range(nl):
        p = f"{prefix}transformer.layer.{i}."
        for n in ("q_lin", "k_lin", "v_lin", "out_lin"):
            out += [(p + f"attention.{n}.weight", (D, D), "lin"), (p + f"attention.{n}.bias", (D,), "bias")]
        out += [(p + "sa_layer_norm.weight", (D,), "ln_w"), (p + "sa_layer_norm.bias", (D,), "ln_b"),
                (p + "ffn.lin1.weight", (I, D), "lin"), (p + "ffn.lin1.bias", (I,), "bias"),
                (p + "ffn.lin2.weight", (D, I), "lin"), (p + "ffn.lin2.bias", (D,), "bias"),
                (p + "output_layer_norm.weight", (D,), "ln_w"), (p + "output_layer_norm.bias", (D,), "ln_b")]
    if mlm:
        out += [("vocab_transform.weight", (D, D), "lin"), ("vocab_transform.bias", (D,), "bias"),
                ("vocab_layer_norm.weight", (D,), "ln_w"), ("vocab_layer_norm.bias", (D,), "ln_b"),
                ("vocab_projector.bias", (V,), "bias")]
    return out


def distilbert_config(arch: str, D: int, H: int, nl: int, I: int, V: int, Pn: int, dtype: str) -> dict:
    return {
        "activation": "gelu", "architectures": [arch], "attention_dropout": 0.1, "dim": D, "dropout": 0.1,
        "hidden_dim": I, "initializer_range": 0.02, "max_position_embeddings": Pn, "model_type": "distilbert",
        "n_heads": H, "n_layers": nl, "pad_token_id": 0, "qa_dropout": 0.1, "seq_classif_dropout": 0.2,
        "sinusoidal_pos_embds": False, "tie_weights_": True, "torch_dtype": dtype,
        "transformers_version": TRANSFORMERS_VERSION, "vocab_size": V,
    }


# ============================================================================================================
# Llama and Qwen2  (models/llama/modeling_llama.py; models/qwen2/modeling_qwen2.py is the same model with q/k/v
# biases and no o_proj bias; eager attention, default rotary embedding, no rope_scaling, no sliding window)
# ============================================================================================================


def rms_norm(x: Tensor, w: Tensor, eps: float) -> Tensor:
    """LlamaRMSNorm.forward (float32 throughout here): weight * (x * rsqrt(mean(x^2) + eps))."""
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def llama_head_dim(cfg: dict) -> int:
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def rope_cos_sin(cfg: dict, position_ids: Tensor) -> Tuple[Tensor, Tensor]:
    """LlamaRotaryEmbedding: inv_freq = 1 / base^(arange(0, D, 2) / D) (__init__), then forward: freqs =
    inv_freq @ position_ids in float32, emb = cat(freqs, freqs), cos / sin [B, L, D]."""
    D = llama_head_dim(cfg)
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    B = position_ids.shape[0]
    freqs = (inv_freq[None, :, None].float().expand(B, -1, 1) @ position_ids[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x: Tensor) -> Tensor:
    """modeling_llama.py rotate_half: cat(-x2, x1) over the last dim."""
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor) -> Tuple[Tensor, Tensor]:
    """modeling_llama.py apply_rotary_pos_emb (unsqueeze_dim=1): x * cos + rotate_half(x) * sin."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(x: Tensor, n_rep: int) -> Tensor:
    """modeling_llama.py repeat_kv: [B, KVH, S, D] -> [B, KVH * n_rep, S, D], each KV head repeated n_rep times."""
    B, KVH, S, D = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(B, KVH, n_rep, S, D).reshape(B, KVH * n_rep, S, D)


def llama_causal_mask(attention_mask: Optional[Tensor], B: int, L: int, past: int, dtype: torch.dtype) -> Tensor:
    """LlamaModel._update_causal_mask (eager): [B, 1, L, S] additive, finfo.min above the diagonal (counted from
    cache_position) and on padding keys, 0 elsewhere."""
    S = past + L
    min_dtype = torch.finfo(dtype).min
    cache_position = torch.arange(past, past + L)
    causal = torch.full((L, S), min_dtype, dtype=dtype)
    if L != 1:
        causal = torch.triu(causal, diagonal=1)
    causal *= torch.arange(S) > cache_position.reshape(-1, 1)
    causal = causal[None, None, :, :].expand(B, 1, -1, -1)
    if attention_mask is not None:
        causal = causal.clone()
        m = attention_mask.shape[-1]
        padding = (causal[:, :, :, :m] + attention_mask[:, None, None, :]) == 0
        causal[:, :, :, :m] = causal[:, :, :, :m].masked_fill(padding, min_dtype)
    return causal


def llama_forward(P: dict, cfg: dict, input_ids: Tensor, attention_mask: Optional[Tensor] = None,
                  position_ids: Optional[Tensor] = None, prefix: str = "model.", lm_head: bool = True,
                  cache: Optional[List[Tuple[Tensor, Tensor]]] = None) -> Tuple[Tensor, "OrderedDict[str, Tensor]"]:
    """LlamaForCausalLM / LlamaModel.forward (and Qwen2's). cache: past key/values as gpt2_forward takes them, one
    (key, value) [B, KVH, P, D] per layer (keys rotated), replaced by the layer's present."""
    H, KVH, nl = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
    D = llama_head_dim(cfg)
    eps = cfg["rms_norm_eps"]
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg["model_type"] == "llama" and cfg.get("attention_bias", False)
    dtype = P[prefix + "embed_tokens.weight"].dtype
    B, L = input_ids.shape
    past = cache[0][0].shape[-2] if cache is not None else 0
    # LlamaModel.forward: cache_position = arange(past, past + L); position_ids default to it (mask not consulted)
    if position_ids is None:
        position_ids = torch.arange(past, past + L, dtype=torch.long).unsqueeze(0).expand(B, -1)
    mask = llama_causal_mask(attention_mask, B, L, past, dtype)
    cos, sin = rope_cos_sin(cfg, position_ids)
    proj = lambda x, name, bias: F.linear(x, P[name + ".weight"], P[name + ".bias"] if bias else None)  # noqa: E731
    h = F.embedding(input_ids, P[prefix + "embed_tokens.weight"])
    attns: "OrderedDict[str, Tensor]" = OrderedDict()
    for i in range(nl):
        p = f"{prefix}layers.{i}."
        # LlamaDecoderLayer.forward: pre-norm, residual around self_attn and mlp
        residual = h
        x = rms_norm(h, P[p + "input_layernorm.weight"], eps)
        # LlamaAttention.forward (eager): q/k/v projections, [B, heads, L, D], rotary, cache, repeat_kv, softmax in f32
        a = p + "self_attn."
        q = proj(x, a + "q_proj", qkv_bias).view(B, L, H, D).transpose(1, 2)
        k = proj(x, a + "k_proj", qkv_bias).view(B, L, KVH, D).transpose(1, 2)
        v = proj(x, a + "v_proj", qkv_bias).view(B, L, KVH, D).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        if cache is not None:
            k, v = torch.cat((cache[i][0], k), dim=-2), torch.cat((cache[i][1], v), dim=-2)
            cache[i] = (k, v)
        k, v = repeat_kv(k, H // KVH), repeat_kv(v, H // KVH)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(D)
        w = w + mask[:, :, :, : k.shape[-2]]
        # softmax upcast to float32 (a no-op here) -- float64 stays float64 for grad_check's finite differences
        w = F.softmax(w, dim=-1, dtype=torch.promote_types(w.dtype, torch.float32)).to(q.dtype)
        keep(attns, a + "weights", w)
        o = torch.matmul(w, v).transpose(1, 2).contiguous().reshape(B, L, H * D)
        h = residual + proj(o, a + "o_proj", o_bias)
        # LlamaMLP.forward: down_proj(act_fn(gate_proj(x)) * up_proj(x)), act_fn = SiLU
        residual = h
        x = rms_norm(h, P[p + "post_attention_layernorm.weight"], eps)
        mb = cfg.get("mlp_bias", False)
        x = proj(F.silu(proj(x, p + "mlp.gate_proj", mb)) * proj(x, p + "mlp.up_proj", mb), p + "mlp.down_proj", mb)
        h = residual + x
    h = rms_norm(h, P[prefix + "norm.weight"], eps)
    if not lm_head:
        return h, attns
    # LlamaForCausalLM: lm_head = nn.Linear(hidden, vocab, bias=False), tied to embed_tokens when tie_word_embeddings
    W = P[prefix + "embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return F.linear(h, W), attns


def llama_greedy(P: dict, cfg: dict, input_ids: Tensor, n: int) -> Tensor:
    """Greedy decoding by full recompute (no cache): each step runs the whole prefix and takes the last argmax.
    Checks that every pick wins by a margin far above float32 noise, so a port's tokens are comparable."""
    ids = input_ids
    for _ in range(n):
        with torch.no_grad():
            logits, _ = llama_forward(P, cfg, ids)
        last = logits[:, -1]
        top2 = last.topk(2, dim=-1).values
        check(bool((top2[:, 0] - top2[:, 1] > 1e-3).all()), "greedy step with a near tie; pick other inputs")
        ids = torch.cat((ids, last.argmax(-1, keepdim=True)), dim=1)
    return ids[:, input_ids.shape[1]:]


def llama_param_shapes(cfg: dict, prefix: str, lm_head: bool) -> List[Tuple[str, tuple, str]]:
    """state_dict order of LlamaForCausalLM / Qwen2ForCausalLM (lm_head.weight only when untied)."""
    E, H, KVH, I, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], \
        cfg["intermediate_size"], cfg["vocab_size"]
    D = llama_head_dim(cfg)
    qkv_bias = cfg["model_type"] == "qwen2"
    out = [(prefix + "embed_tokens.weight", (V, E), "emb")]
    for i in range(cfg["num_hidden_layers"]):
        p = f"{prefix}layers.{i}."
        for n, rows in (("q_proj", H * D), ("k_proj", KVH * D), ("v_proj", KVH * D)):
            out.append((p + f"self_attn.{n}.weight", (rows, E), "lin"))
            if qkv_bias:
                out.append((p + f"self_attn.{n}.bias", (rows,), "bias"))
        out += [(p + "self_attn.o_proj.weight", (E, H * D), "lin"),
                (p + "mlp.gate_proj.weight", (I, E), "lin"), (p + "mlp.up_proj.weight", (I, E), "lin"),
                (p + "mlp.down_proj.weight", (E, I), "lin"),
                (p + "input_layernorm.weight", (E,), "ln_w"), (p + "post_attention_layernorm.weight", (E,), "ln_w")]
    out.append((prefix + "norm.weight", (E,), "ln_w"))
    if lm_head and not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight", (V, E), "lin"))
    return out


def llama_config(model_type: str, arch: str, E: int, H: int, KVH: int, nl: int, I: int, V: int, Pn: int, dtype: str,
                 tied: bool, theta: float) -> dict:
    """configuration_llama.py LlamaConfig / configuration_qwen2.py Qwen2Config as save_pretrained writes them."""
    cfg = {
        "architectures": [arch], "attention_dropout": 0.0, "bos_token_id": V - 1, "eos_token_id": V - 1,
        "hidden_act": "silu", "hidden_size": E, "initializer_range": 0.02, "intermediate_size": I,
        "max_position_embeddings": Pn, "model_type": model_type, "num_attention_heads": H, "num_hidden_layers": nl,
        "num_key_value_heads": KVH, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": theta,
        "tie_word_embeddings": tied, "torch_dtype": dtype, "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True, "vocab_size": V,
    }
    if model_type == "llama":
        cfg.update({"attention_bias": False, "mlp_bias": False, "pretraining_tp": 1})
    else:
        cfg.update({"max_window_layers": nl, "sliding_window": Pn, "use_sliding_window": False})
    return cfg


# ============================================================================================================
# random weights, dtype rounding, state dicts as save_pretrained writes them
# ============================================================================================================


def random_params(shapes: List[Tuple[str, tuple, str]], seed: int) -> "OrderedDict[str, Tensor]":
    """Larger than HF's init (std 0.02) on purpose: attention is then neither uniform nor one-hot, and a wrong
    scale, mask or layout shows up far above the test tolerances."""
    g = torch.Generator().manual_seed(seed)
    out: "OrderedDict[str, Tensor]" = OrderedDict()
    for name, shape, kind in shapes:
        r = torch.randn(shape, generator=g, dtype=torch.float32)
        if kind == "emb":
            t = 0.5 * r
        elif kind == "lin":  # nn.Linear [out, in]
            t = 1.2 * r / math.sqrt(shape[1])
        elif kind == "conv":  # Conv1D [in, out]
            t = 1.2 * r / math.sqrt(shape[0])
        elif kind == "bias":
            t = 0.1 * r
        elif kind == "ln_w":
            t = 1.0 + 0.1 * r
        elif kind == "ln_b":
            t = 0.1 * r
        else:
            raise ValueError(kind)
        out[name] = t.contiguous()
    return out


TORCH_DTYPE = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def rounded(sd: Dict[str, Tensor], dtype: str) -> "OrderedDict[str, Tensor]":
    """What a loader converting an F16/BF16 checkpoint to f32 sees: the weights rounded to dtype, back in f32."""
    return OrderedDict((k, v.to(TORCH_DTYPE[dtype]).to(torch.float32) if v.is_floating_point() else v)
                       for k, v in sd.items())


def strip_prefix(sd: Dict[str, Tensor], prefix: str) -> "OrderedDict[str, Tensor]":
    return OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))


def write_config(case_dir: str, cfg: dict) -> None:
    # PretrainedConfig.to_json_string: json.dumps(sort_keys=True, indent=2) + "\n"
    with open(os.path.join(case_dir, "config.json"), "w") as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def write_checkpoint(case_dir: str, sd: Dict[str, Tensor], dtype: str, shards: int = 1) -> None:
    """modeling_utils.py PreTrainedModel.save_pretrained (safe_serialization): floating tensors in the model's
    dtype, __metadata__ {"format": "pt"}; with shards: model-0000k-of-0000n.safetensors in state_dict order and
    model.safetensors.index.json {"metadata": {"total_size": bytes of all tensors}, "weight_map": {name: file}}."""
    dt = TORCH_DTYPE[dtype]
    sd = OrderedDict((k, v.to(dt) if v.is_floating_point() else v) for k, v in sd.items())
    if shards == 1:
        st_write(os.path.join(case_dir, "model.safetensors"), sd, {"format": "pt"})
        return
    names = list(sd)
    total = sum(t.numel() * t.element_size() for t in sd.values())
    # split in state_dict order at about half of the bytes, as a max_shard_size of ~total/2 would
    bounds, acc, cut = [], 0, []
    for n in names:
        cut.append(n)
        acc += sd[n].numel() * sd[n].element_size()
        if acc >= total * len(bounds + [0]) / shards and len(bounds) < shards - 1:
            bounds.append(cut)
            cut = []
    bounds.append(cut)
    assert len(bounds) == shards and all(bounds)
    weight_map = {}
    for k, group in enumerate(bounds):
        fname = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        st_write(os.path.join(case_dir, fname), OrderedDict((n, sd[n]) for n in group), {"format": "pt"})
        for n in group:
            weight_map[n] = fname
    with open(os.path.join(case_dir, "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True)
                + "\n")


# ============================================================================================================
# tokenizers (hand-built tokenizer.json in the `tokenizers` library's format, plus a tiny Python encoder used
# only to write the expected ids that the JS side checks with @huggingface/tokenizers)
# ============================================================================================================


def bytes_to_unicode() -> Dict[int, str]:
    """models/gpt2/tokenization_gpt2.py bytes_to_unicode: printable bytes map to themselves, the rest to 256+n.
    The list order is also GPT-2's id order for the 256 base tokens (so "Ġ", the space, is id 220)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return OrderedDict(zip(bs, [chr(c) for c in cs]))


# GPT-2's pre-tokenizer regex restricted to ASCII (the texts used here are ASCII): 's|'t|... | ?\p{L}+| ?\p{N}+|...
GPT2_PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")

GPT2_CORPUS = ("the cat sat on the mat. the dog sat on the log. a cat and a dog ran to the park, "
               "then the cat saw the dog and the dog saw the cat. it is the end of the story, the end.")
GPT2_TEXTS = ["the cat sat on the mat.", "Hello world, the dog ran!"]


def bpe_train(words: List[List[str]], n_merges: int) -> List[Tuple[str, str]]:
    words = [list(w) for w in words]
    merges = []
    for _ in range(n_merges):
        counts: Dict[Tuple[str, str], int] = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(sorted(counts), key=lambda pr: counts[pr])  # most frequent; ties -> smallest pair
        merges.append(best)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [w[i] + w[i + 1]]
                else:
                    i += 1
    return merges


def bpe_encode_word(word: List[str], ranks: Dict[Tuple[str, str], int]) -> List[str]:
    w = list(word)
    while len(w) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(w, w[1:]))]
        r, i = min(pairs)
        if r == 1 << 30:
            break
        w[i:i + 2] = [w[i] + w[i + 1]]
    return w


def gpt2_tokenizer(n_merges: int):
    b2u = bytes_to_unicode()
    words = [[b2u[b] for b in m.encode("utf-8")] for m in GPT2_PAT.findall(GPT2_CORPUS)]
    merges = bpe_train(words, n_merges)
    vocab: "OrderedDict[str, int]" = OrderedDict((c, i) for i, c in enumerate(b2u.values()))
    for a, b in merges:
        vocab[a + b] = len(vocab)
    eos = "<|endoftext|>"
    vocab[eos] = len(vocab)
    ranks = {m: i for i, m in enumerate(merges)}

    def encode(text: str) -> Tuple[List[int], List[str]]:
        toks = []
        for m in GPT2_PAT.findall(text):
            toks += bpe_encode_word([b2u[b] for b in m.encode("utf-8")], ranks)
        return [vocab[t] for t in toks], toks

    # Layout of openai-community/gpt2's tokenizer.json (tokenizers serialisation, version "1.0").
    tok = OrderedDict([
        ("version", "1.0"), ("truncation", None), ("padding", None),
        ("added_tokens", [OrderedDict([("id", vocab[eos]), ("content", eos), ("single_word", False),
                                       ("lstrip", False), ("rstrip", False), ("normalized", True),
                                       ("special", True)])]),
        ("normalizer", None),
        ("pre_tokenizer", OrderedDict([("type", "ByteLevel"), ("add_prefix_space", False),
                                       ("trim_offsets", True), ("use_regex", True)])),
        ("post_processor", OrderedDict([("type", "ByteLevel"), ("add_prefix_space", True),
                                        ("trim_offsets", False), ("use_regex", True)])),
        ("decoder", OrderedDict([("type", "ByteLevel"), ("add_prefix_space", True), ("trim_offsets", True),
                                 ("use_regex", True)])),
        ("model", OrderedDict([("type", "BPE"), ("dropout", None), ("unk_token", None),
                               ("continuing_subword_prefix", ""), ("end_of_word_suffix", ""), ("fuse_unk", False),
                               ("byte_fallback", False), ("ignore_merges", False), ("vocab", vocab),
                               ("merges", [f"{a} {b}" for a, b in merges])])),
    ])
    tok_cfg = OrderedDict([("add_bos_token", False), ("add_prefix_space", False), ("bos_token", eos),
                           ("clean_up_tokenization_spaces", False), ("eos_token", eos), ("model_max_length", 32),
                           ("tokenizer_class", "GPT2Tokenizer"), ("unk_token", eos)])
    expect = []
    for t in GPT2_TEXTS:
        ids, toks = encode(t)
        expect.append(OrderedDict([("text", t), ("ids", ids), ("tokens", toks), ("decoded", t)]))
    return tok, tok_cfg, expect, len(vocab)


BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BERT_WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "to", "a", "park", "and", "saw", "it", "is", "hello",
              "world", "end", "story", "##s", "##ing", "##ed", "of", "play", "run", "##ning", "jump", "log"]
BERT_TEXTS = [("The cat sat on the mat.", None), ("Hello, world! The dogs played.", "Jumping cats ran.")]


def bert_tokenizer():
    vocab: "OrderedDict[str, int]" = OrderedDict()
    for t in BERT_SPECIALS + list(".,!?'-") + [chr(c) for c in range(97, 123)] + \
            ["##" + chr(c) for c in range(97, 123)] + BERT_WORDS:
        if t not in vocab:
            vocab[t] = len(vocab)

    def wordpiece(word: str) -> List[str]:  # greedy longest-match-first (WordPiece model)
        out, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in vocab:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                return ["[UNK]"]
            out.append(cur)
            start = end
        return out

    def pieces(text: str) -> List[str]:  # BertNormalizer(lowercase) + BertPreTokenizer, ASCII texts only
        toks = []
        for w in re.findall(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]", text.lower()):
            toks += wordpiece(w)
        return toks

    def encode(a: str, b: Optional[str]):
        toks = ["[CLS]"] + pieces(a) + ["[SEP]"]
        types = [0] * len(toks)
        if b is not None:
            tb = pieces(b) + ["[SEP]"]
            toks += tb
            types += [1] * len(tb)
        return [vocab[t] for t in toks], toks, types

    def special(name: str) -> dict:
        return OrderedDict([("id", vocab[name]), ("content", name), ("single_word", False), ("lstrip", False),
                            ("rstrip", False), ("normalized", False), ("special", True)])

    def st(name: str, type_id: int) -> dict:
        return {"SpecialToken": OrderedDict([("id", name), ("type_id", type_id)])}

    def seq(name: str, type_id: int) -> dict:
        return {"Sequence": OrderedDict([("id", name), ("type_id", type_id)])}

    # Layout of google-bert/bert-base-uncased's tokenizer.json.
    tok = OrderedDict([
        ("version", "1.0"), ("truncation", None), ("padding", None),
        ("added_tokens", [special(s) for s in BERT_SPECIALS]),
        ("normalizer", OrderedDict([("type", "BertNormalizer"), ("clean_text", True), ("handle_chinese_chars", True),
                                    ("strip_accents", None), ("lowercase", True)])),
        ("pre_tokenizer", OrderedDict([("type", "BertPreTokenizer")])),
        ("post_processor", OrderedDict([
            ("type", "TemplateProcessing"),
            ("single", [st("[CLS]", 0), seq("A", 0), st("[SEP]", 0)]),
            ("pair", [st("[CLS]", 0), seq("A", 0), st("[SEP]", 0), seq("B", 1), st("[SEP]", 1)]),
            ("special_tokens", OrderedDict(
                (s, OrderedDict([("id", s), ("ids", [vocab[s]]), ("tokens", [s])])) for s in ("[CLS]", "[SEP]")))])),
        ("decoder", OrderedDict([("type", "WordPiece"), ("prefix", "##"), ("cleanup", True)])),
        ("model", OrderedDict([("type", "WordPiece"), ("unk_token", "[UNK]"), ("continuing_subword_prefix", "##"),
                               ("max_input_chars_per_word", 100), ("vocab", vocab)])),
    ])
    tok_cfg = OrderedDict([("clean_up_tokenization_spaces", True), ("cls_token", "[CLS]"), ("do_lower_case", True),
                           ("mask_token", "[MASK]"), ("model_max_length", 64), ("pad_token", "[PAD]"),
                           ("sep_token", "[SEP]"), ("strip_accents", None), ("tokenize_chinese_chars", True),
                           ("tokenizer_class", "BertTokenizer"), ("unk_token", "[UNK]")])
    expect = []
    for a, b in BERT_TEXTS:
        ids, toks, types = encode(a, b)
        e = OrderedDict([("text", a)])
        if b is not None:
            e["text_pair"] = b
        e.update([("ids", ids), ("tokens", toks), ("token_type_ids", types)])
        expect.append(e)
    return tok, tok_cfg, expect, len(vocab)


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# ============================================================================================================
# cases
# ============================================================================================================

GPT2_DIMS = dict(E=30, H=3, nl=2, Pn=32)      # head_dim 10 (not a multiple of 4)
BERT_DIMS = dict(Hd=32, H=4, nl=2, I=64, Pn=48)
ROBERTA_DIMS = dict(Hd=32, H=2, nl=2, I=48, Pn=34)  # max_position_embeddings = 32 usable + padding_idx + 1
DISTIL_DIMS = dict(D=36, H=3, nl=2, I=72, Pn=40)    # head_dim 12
LLAMA_DIMS = dict(E=32, H=4, KVH=2, nl=2, I=48, Pn=256)  # head_dim 8, two query heads per KV head; room for a chat prompt
QWEN2_DIMS = dict(E=36, H=6, KVH=2, nl=2, I=40, Pn=48)  # head_dim 6, three query heads per KV head
LLAMA_NEW_TOKENS = 6
# ChatML, as SmolLM-Instruct's tokenizer_config.json has it (a Jinja template rendered by apply_chat_template).
LLAMA_CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                       "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                       "{% endif %}")


class Case:
    def __init__(self, name: str, family: str, arch: str, base_only: bool, exercises: str, dtype: str = "float32",
                 shards: int = 1, layout: str = "current", grad: bool = False, tokenizer: bool = False,
                 generate: int = 0):
        self.name, self.family, self.arch, self.base_only = name, family, arch, base_only
        self.exercises, self.dtype, self.shards, self.layout = exercises, dtype, shards, layout
        self.grad, self.tokenizer, self.generate = grad, tokenizer, generate


def make_inputs(family: str, kind: str, V: int, pad_id: int, seed: int) -> Dict[str, Tensor]:
    """Seeded inputs, B = 2. kind: none | left | right | right_types | genpos."""
    g = torch.Generator().manual_seed(seed)
    L = {"gpt2": 7, "bert": 9, "roberta": 9, "distilbert": 8, "llama": 6, "qwen2": 6}[family]
    lo = 5 if family in ("bert", "distilbert") else (3 if family == "roberta" else 0)  # skip specials / pad ids
    hi = V - 1 if family == "gpt2" else V  # GPT-2: keep <|endoftext|> (last id) for padding
    ids = torch.randint(lo, hi, (2, L), generator=g)
    out: Dict[str, Tensor] = OrderedDict()
    if family in ("bert", "distilbert"):
        ids[:, 0] = 2  # [CLS]
    if family == "roberta":
        ids[:, 0] = 0  # <s>
    mask = torch.ones((2, L), dtype=torch.long)
    if kind in ("left", "genpos"):
        mask[1, :3] = 0
    elif kind in ("right", "right_types"):
        mask[1, L - 3:] = 0
    if kind != "none":
        ids[mask == 0] = pad_id
    out["input_ids"] = ids
    if kind != "none":
        out["attention_mask"] = mask
    if kind == "right_types":
        tt = torch.zeros((2, L), dtype=torch.long)
        tt[0, 5:] = 1
        tt[1, 4:L - 3] = 1
        out["token_type_ids"] = tt
    if kind == "genpos":
        # GPT2LMHeadModel.prepare_inputs_for_generation: position_ids = cumsum(mask) - 1, pads filled with 1
        pos = mask.cumsum(-1) - 1
        pos.masked_fill_(mask == 0, 1)
        out["position_ids"] = pos
    return out


def run_case(case: Case, cfg: dict, P: Dict[str, Tensor], inputs: Dict[str, Tensor], prefix: str):
    """Run the reference; returns (output, attentions, extras) with extras holding pooler_output."""
    ids = inputs["input_ids"]
    am = inputs.get("attention_mask")
    extras: Dict[str, Tensor] = OrderedDict()
    if case.family == "gpt2":
        out, attns = gpt2_forward(P, cfg, ids, am, inputs.get("position_ids"), prefix, lm_head=not case.base_only)
    elif case.family in ("bert", "roberta"):
        out, attns, pooled = bert_forward(P, cfg, ids, am, inputs.get("token_type_ids"), prefix,
                                          None if case.base_only else "mlm", roberta=case.family == "roberta")
        if pooled is not None:
            extras["pooler_output"] = pooled
    elif case.family in ("llama", "qwen2"):
        out, attns = llama_forward(P, cfg, ids, am, inputs.get("position_ids"), prefix, lm_head=not case.base_only)
    else:
        out, attns = distilbert_forward(P, cfg, ids, am, prefix, mlm=not case.base_only)
    return out, attns, extras


FAMILY_PREFIX = {"gpt2": "transformer.", "bert": "bert.", "roberta": "roberta.", "distilbert": "distilbert.",
                 "llama": "model.", "qwen2": "model."}

# Parameters whose gradients are stored (full names; unprefixed for base models).
GRAD_PARAMS = {
    "gpt2": ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
             "transformer.h.1.mlp.c_proj.weight", "transformer.ln_f.weight"],
    "bert": ["bert.embeddings.word_embeddings.weight", "bert.embeddings.token_type_embeddings.weight",
             "bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.1.output.LayerNorm.weight",
             "cls.predictions.bias"],
    "roberta": ["roberta.embeddings.word_embeddings.weight", "roberta.embeddings.position_embeddings.weight",
                "roberta.encoder.layer.0.attention.self.query.weight", "lm_head.dense.weight"],
    "distilbert": ["distilbert.embeddings.word_embeddings.weight",
                   "distilbert.transformer.layer.0.attention.q_lin.weight",
                   "distilbert.transformer.layer.1.ffn.lin2.weight", "vocab_projector.bias"],
    "llama": ["model.embed_tokens.weight", "model.layers.0.self_attn.k_proj.weight",
              "model.layers.0.input_layernorm.weight", "model.layers.1.mlp.gate_proj.weight", "model.norm.weight"],
    "qwen2": ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.bias",
              "model.layers.1.post_attention_layernorm.weight", "model.layers.1.mlp.up_proj.weight", "lm_head.weight"],
}


def build_all(out_dir: str, only: Optional[List[str]] = None) -> List[dict]:
    """Build every case (or those of the families in `only`): family weights (one seeded set per family, shared by
    its cases), state dicts in HF layout, inputs, reference outputs. Returns index entries; writes files."""
    gpt2_tok, gpt2_tok_cfg, gpt2_expect, gpt2_V = gpt2_tokenizer(n_merges=43)
    bert_tok, bert_tok_cfg, bert_expect, bert_V = bert_tokenizer()

    fam = {}
    d = GPT2_DIMS
    fam["gpt2"] = dict(V=gpt2_V, pad=gpt2_V - 1, mk=lambda arch, dt: gpt2_config(arch, d["E"], d["H"], d["nl"], gpt2_V, d["Pn"], dt))
    fam["gpt2"]["weights"] = random_params(gpt2_param_shapes(fam["gpt2"]["mk"]("GPT2LMHeadModel", "float32"), "transformer."), seed=1)

    b = BERT_DIMS
    fam["bert"] = dict(V=bert_V, pad=0, mk=lambda arch, dt: bert_config(arch, b["Hd"], b["H"], b["nl"], b["I"], bert_V, b["Pn"], dt))
    fam["bert"]["weights"] = random_params(bert_param_shapes(fam["bert"]["mk"]("BertForMaskedLM", "float32"), "bert.", True, "bert"), seed=2)

    r = ROBERTA_DIMS
    rV = 80
    fam["roberta"] = dict(V=rV, pad=1, mk=lambda arch, dt: bert_config(arch, r["Hd"], r["H"], r["nl"], r["I"], rV, r["Pn"], dt, roberta=True))
    fam["roberta"]["weights"] = random_params(bert_param_shapes(fam["roberta"]["mk"]("RobertaForMaskedLM", "float32"), "roberta.", True, "roberta"), seed=3)

    s = DISTIL_DIMS
    sV = 70
    fam["distilbert"] = dict(V=sV, pad=0, mk=lambda arch, dt: distilbert_config(arch, s["D"], s["H"], s["nl"], s["I"], sV, s["Pn"], dt))
    fam["distilbert"]["weights"] = random_params(distilbert_param_shapes(fam["distilbert"]["mk"]("DistilBertForMaskedLM", "float32"), "distilbert.", True), seed=4)

    ll = LLAMA_DIMS  # tied embeddings, GQA, the GPT-2 fixtures' byte-level BPE tokenizer (SmolLM's kind)
    fam["llama"] = dict(V=gpt2_V, pad=gpt2_V - 1, mk=lambda arch, dt: llama_config(
        "llama", arch, ll["E"], ll["H"], ll["KVH"], ll["nl"], ll["I"], gpt2_V, ll["Pn"], dt, True, 10000.0))
    fam["llama"]["weights"] = random_params(llama_param_shapes(fam["llama"]["mk"]("LlamaForCausalLM", "float32"), "model.", True), seed=5)
    qw = QWEN2_DIMS  # untied lm_head, q/k/v biases, Qwen2's rope_theta
    qV = 120
    fam["qwen2"] = dict(V=qV, pad=qV - 1, mk=lambda arch, dt: llama_config(
        "qwen2", arch, qw["E"], qw["H"], qw["KVH"], qw["nl"], qw["I"], qV, qw["Pn"], dt, False, 1000000.0))
    fam["qwen2"]["weights"] = random_params(llama_param_shapes(fam["qwen2"]["mk"]("Qwen2ForCausalLM", "float32"), "model.", True), seed=6)

    cases = [
        (Case("gpt2_lm", "gpt2", "GPT2LMHeadModel", False, "GPT2LMHeadModel F32, no attention_mask; tied lm_head; "
              "gradients; tokenizer.json (ByteLevel BPE)", grad=True, tokenizer=True), "none"),
        (Case("gpt2_lm_left_pad", "gpt2", "GPT2LMHeadModel", False, "left padding via attention_mask (row 1: 3 pads); "
              "default position_ids = arange (HF forward ignores the mask for positions)"), "left"),
        (Case("gpt2_lm_left_pad_genpos", "gpt2", "GPT2LMHeadModel", False, "left padding with explicit position_ids "
              "as HF generate builds them (cumsum(mask) - 1, pads -> 1); io holds position_ids"), "genpos"),
        (Case("gpt2_lm_right_pad", "gpt2", "GPT2LMHeadModel", False, "right padding via attention_mask"), "right"),
        (Case("gpt2_base", "gpt2", "GPT2Model", True, "GPT2Model saved on its own: unprefixed names (h.0.attn...), "
              "output = last_hidden_state; right padding"), "right"),
        (Case("gpt2_lm_f16", "gpt2", "GPT2LMHeadModel", False, "F16 checkpoint (torch_dtype float16); reference in f32 "
              "from the f16-rounded weights; gradients (the weights stay packed on the GPU)", dtype="float16", grad=True), "right"),
        (Case("gpt2_lm_sharded", "gpt2", "GPT2LMHeadModel", False, "two shards + model.safetensors.index.json",
              shards=2), "none"),
        (Case("gpt2_lm_old_layout", "gpt2", "GPT2LMHeadModel", False, "the original openai gpt2 layout: "
              "GPT2LMHeadModel architecture but unprefixed (base-model) names, plus the h.N.attn.bias "
              "[1,1,n_positions,n_positions] F32 tril and h.N.attn.masked_bias [] F32 (-1e4) buffers HF ignores",
              layout="old"), "left"),
        (Case("bert_mlm", "bert", "BertForMaskedLM", False, "BertForMaskedLM F32, token_type_ids + right padding; "
              "gradients; tokenizer.json (WordPiece)", grad=True, tokenizer=True), "right_types"),
        (Case("bert_base", "bert", "BertModel", True, "BertModel saved on its own (unprefixed, with pooler; "
              "pooler_output also stored), padding, no token_type_ids (zeros)"), "right"),
        (Case("bert_mlm_bf16", "bert", "BertForMaskedLM", False, "BF16 checkpoint; reference in f32 from the "
              "bf16-rounded weights; token types + padding; gradients", dtype="bfloat16", grad=True), "right_types"),
        (Case("bert_mlm_old_layout", "bert", "BertForMaskedLM", False, "old layout: bert.embeddings.position_ids "
              "I64 [1, max_positions] buffer, and the tied cls.predictions.decoder.weight / decoder.bias written out "
              "(duplicates of word_embeddings / cls.predictions.bias)", layout="old"), "right_types"),
        (Case("distilbert_mlm", "distilbert", "DistilBertForMaskedLM", False, "DistilBertForMaskedLM F32, right "
              "padding; gradients", grad=True), "right"),
        (Case("distilbert_base", "distilbert", "DistilBertModel", True, "DistilBertModel saved on its own "
              "(unprefixed), no attention_mask"), "none"),
        (Case("distilbert_mlm_f16", "distilbert", "DistilBertForMaskedLM", False, "F16 checkpoint, padding",
              dtype="float16"), "right"),
        (Case("roberta_mlm", "roberta", "RobertaForMaskedLM", False, "RobertaForMaskedLM F32, right padding with "
              "pad id 1 (positions from input_ids: padding_idx + 1 + cumsum, pads -> padding_idx); gradients",
              grad=True), "right"),
        (Case("roberta_base", "roberta", "RobertaModel", True, "RobertaModel saved on its own (unprefixed, pooler; "
              "pooler_output also stored), left padding (pad id 1)"), "left"),
    ]
    N = LLAMA_NEW_TOKENS
    for fm, arch, what in (("llama", "LlamaForCausalLM", "tied embeddings, 4 query heads on 2 KV heads"),
                           ("qwen2", "Qwen2ForCausalLM", "untied lm_head, q/k/v biases, 6 query heads on 2 KV heads")):
        for dt, tag in (("float32", ""), ("float16", "_f16"), ("bfloat16", "_bf16")):
            cases.append((Case(f"{fm}_lm{tag}", fm, arch, False, f"{arch} {dt}: {what}; reference in f32 from the "
                               f"{dt}-rounded weights; gradients; {N} greedy tokens by full recompute",
                               dtype=dt, grad=True, tokenizer=fm == "llama" and not tag, generate=N), "none"))
    cases.append((Case("llama_base", "llama", "LlamaModel", True, "LlamaModel saved on its own (unprefixed: "
                       "layers.N.self_attn...), output = last_hidden_state; left padding (default positions "
                       "arange, as LlamaModel.forward ignores the mask for them)"), "left"))

    entries = []
    for ci, (case, kind) in enumerate(cases):
        if only is not None and case.family not in only:
            continue
        F_ = fam[case.family]
        prefix = FAMILY_PREFIX[case.family]
        cfg = F_["mk"](case.arch, case.dtype)
        full = F_["weights"]
        # the model's own state_dict as save_pretrained writes it (tied weights not written)
        if case.base_only:
            sd = strip_prefix(full, prefix)
            if case.family == "distilbert" or case.family == "gpt2":
                pass
            run_prefix = ""
        else:
            sd = OrderedDict((k, v) for k, v in full.items() if ".pooler." not in k)
            run_prefix = prefix
        P32 = rounded(sd, case.dtype)  # what the reference computes with
        disk = OrderedDict(sd)
        if case.layout == "old" and case.family == "gpt2":
            # unprefixed names + the old persistent attention buffers, in the order the old state_dict had them
            disk = OrderedDict()
            Pn = cfg["n_positions"]
            for k, v in strip_prefix(sd, prefix).items():
                m = re.match(r"h\.(\d+)\.attn\.c_attn\.weight$", k)
                if m:
                    disk[f"h.{m.group(1)}.attn.bias"] = torch.tril(torch.ones((Pn, Pn))).view(1, 1, Pn, Pn)
                    disk[f"h.{m.group(1)}.attn.masked_bias"] = torch.tensor(-1e4)
                disk[k] = v
        elif case.layout == "old" and case.family == "bert":
            disk = OrderedDict()
            for k, v in sd.items():
                disk[k] = v
                if k == "bert.embeddings.LayerNorm.bias":
                    disk["bert.embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"]).view(1, -1)
            disk["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
            disk["cls.predictions.decoder.bias"] = sd["cls.predictions.bias"]

        case_dir = os.path.join(out_dir, case.name)
        os.makedirs(case_dir, exist_ok=True)
        write_config(case_dir, cfg)
        write_checkpoint(case_dir, disk, case.dtype, case.shards)

        inputs = make_inputs(case.family, kind, F_["V"], F_["pad"], seed=100 + ci)
        if case.grad:
            P = OrderedDict((k, v.clone().requires_grad_(True)) for k, v in P32.items())
        else:
            P = P32
        with torch.set_grad_enabled(case.grad):
            out, attns, extras = run_case(case, cfg, P, inputs, run_prefix)
        io: "OrderedDict[str, Tensor]" = OrderedDict(inputs)
        io["output"] = out.detach()
        for k, v in extras.items():
            io[k] = v.detach()
        for k, v in attns.items():
            io[k] = v.detach()
        grad_info = None
        if case.grad:
            # target: one logit at a non-padded position of the last row (flat index into `output`)
            B, L, V = out.shape
            last_real = int(inputs.get("attention_mask", torch.ones(B, L, dtype=torch.long))[B - 1].sum()) - 1
            tok = int(inputs["input_ids"][B - 1, max(last_real - 1, 0)]) % V
            target = ((B - 1) * L + last_real) * V + tok
            out.reshape(-1)[target].backward()
            io["grad.target"] = torch.tensor([target], dtype=torch.long)
            names = GRAD_PARAMS[case.family]
            for n in names:
                io["grad." + n] = P[n].grad.detach().clone()
            for k, v in attns.items():
                io[k + ".grad"] = v.grad.detach().clone()
            grad_info = {"target": target, "target_index": [B - 1, last_real, tok], "params": names}
        if case.generate:
            io["generate.tokens"] = llama_greedy(P32, cfg, inputs["input_ids"], case.generate)
        st_write(os.path.join(case_dir, "io.safetensors"), io, {"case": case.name, "generator": "tools/hf_reference.py"})

        if case.tokenizer:
            tok, tok_cfg, expect, tv = (gpt2_tok, gpt2_tok_cfg, gpt2_expect, gpt2_V) if case.family in ("gpt2", "llama") \
                else (bert_tok, bert_tok_cfg, bert_expect, bert_V)
            if case.family == "llama":  # an instruct checkpoint's tokenizer_config.json carries its chat template
                tok_cfg = OrderedDict(tok_cfg)
                tok_cfg["chat_template"] = LLAMA_CHAT_TEMPLATE
            assert tv == cfg["vocab_size"], "tokenizer vocab must match the model's vocab_size"
            write_json(os.path.join(case_dir, "tokenizer.json"), tok)
            write_json(os.path.join(case_dir, "tokenizer_config.json"), tok_cfg)
            write_json(os.path.join(case_dir, "tokenizer_expect.json"), expect)

        files = sorted(os.listdir(case_dir))
        entry = OrderedDict([
            ("name", case.name), ("family", case.family), ("model_type", cfg["model_type"]),
            ("architecture", case.arch), ("base_model_saved_alone", case.base_only), ("dtype", case.dtype),
            ("sharded", case.shards > 1), ("layout", case.layout), ("padding", kind),
            ("exercises", case.exercises), ("files", files),
            ("inputs", list(inputs.keys())), ("output", "logits" if not case.base_only else "last_hidden_state"),
            ("output_shape", list(out.shape)),
            ("extras", list(extras.keys())), ("captures", [k[:-len(".weights")] for k in attns]),
            ("grad", grad_info), ("tokenizer", case.tokenizer),
        ])
        if case.generate:
            entry["generate"] = {"max_new_tokens": case.generate, "tokens": "io generate.tokens: greedy, full recompute"}
        if kind in ("left", "genpos") and case.family == "gpt2":
            entry["note"] = ("rows of padded query positions (attention_mask == 0) are degenerate: every key is "
                             "masked; HF's additive min/-inf overflow makes them uniform over the keys scored exactly "
                             "finfo.min (see docs/hf-reference.md); compare them or skip them deliberately")
        entries.append(entry)
    return entries


# ============================================================================================================
# self-checks
# ============================================================================================================


def maxabs(t: Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


def check(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


def rerun_from_disk(out_dir: str, e: dict) -> Tuple[Tensor, Dict[str, Tensor], Dict[str, Tensor]]:
    """Load a case back through st_read/load_checkpoint (f32 conversion, old-layout buffers ignored, missing
    base prefix added, as HF's from_pretrained would) and re-run the reference."""
    case_dir = os.path.join(out_dir, e["name"])
    cfg, sd = load_checkpoint(case_dir)
    io, _ = st_read(os.path.join(case_dir, "io.safetensors"))
    prefix = FAMILY_PREFIX[e["family"]]
    P = OrderedDict()
    for k, v in sd.items():
        if re.search(r"(^|\.)attn\.(masked_)?bias$", k) or k.endswith("embeddings.position_ids") or \
                k.startswith("cls.predictions.decoder."):
            continue  # _keys_to_ignore_on_load_unexpected / tied duplicates
        if not e["base_model_saved_alone"] and not k.startswith(prefix) and \
                not k.startswith(("lm_head.", "cls.", "vocab_")):
            k = prefix + k  # a base-model checkpoint loaded into the head model: HF adds the prefix
        P[k] = v.to(torch.float32)
    case = Case(e["name"], e["family"], e["architecture"], e["base_model_saved_alone"], "")
    inputs = OrderedDict((k, io[k]) for k in e["inputs"])
    with torch.no_grad():
        out, attns, extras = run_case(case, cfg, P, inputs, "" if e["base_model_saved_alone"] else prefix)
    return out, attns, io


def self_check(out_dir: str, entries: List[dict]) -> None:
    by = {e["name"]: e for e in entries}
    results = {}
    for e in entries:
        out, attns, io = rerun_from_disk(out_dir, e)
        results[e["name"]] = (out, attns, io)
        # 1. bit-exact re-run from the files (writer/reader/naming round trip)
        check(torch.equal(out, io["output"]), f"{e['name']}: output differs when re-run from disk")
        for k, v in attns.items():
            check(torch.equal(v, io[k]), f"{e['name']}: {k} differs when re-run from disk")
        check(all(torch.isfinite(t).all() for t in io.values() if t.is_floating_point()), f"{e['name']}: non-finite")
        # 2. attention rows sum to 1; padded keys get 0 from every real query; causal upper triangle is 0
        mask = io.get("attention_mask")
        for k, w in attns.items():
            check(torch.allclose(w.sum(-1), torch.ones(()), atol=1e-6), f"{e['name']}: {k} rows do not sum to 1")
            B, H, L, S = w.shape
            real_q = torch.ones(B, L, dtype=torch.bool) if mask is None else mask.bool()
            if mask is not None:
                pad_k = ~mask.bool()
                sel = real_q[:, None, :, None] & pad_k[:, None, None, :]
                check(maxabs(w.masked_select(sel.expand_as(w))) == 0.0,
                      f"{e['name']}: {k} gives a padding key non-zero probability")
            if e["family"] in ("gpt2", "llama", "qwen2"):
                fut = torch.triu(torch.ones(L, S, dtype=torch.bool), 1)
                sel = real_q[:, None, :, None] & fut[None, None]
                check(maxabs(w.masked_select(sel.expand_as(w))) == 0.0,
                      f"{e['name']}: {k} attends to the future")
            # not degenerate: the reference must produce peaked, non-uniform attention for tests to mean much
            check(float(w.max()) > 0.5, f"{e['name']}: {k} is nearly uniform; weights too small")
        # 3. RoBERTa positions
    if "gpt2_lm" in by:
        cross_checks(out_dir, by, results)
    # 8. gradients by central differences in float64 (one case per family, a few elements)
    for e in entries:
        if e["grad"]:
            grad_check(out_dir, e, results[e["name"]][2])
    if "llama_lm" in by:
        llama_checks(out_dir, by, results)
    print(f"self-check ok: {len(entries)} cases")


def llama_checks(out_dir: str, by: dict, results: dict) -> None:
    """10. Llama / Qwen2: decoding with the cache (past key/values, one token at a time) gives the full forward's
    logits; the tied base model's hidden states times embed_tokens^T are the LM's logits (same weights)."""
    for name in ("llama_lm", "qwen2_lm"):
        cfg, sd = load_checkpoint(os.path.join(out_dir, name))
        P = OrderedDict((k, v.float()) for k, v in sd.items())
        io = results[name][2]
        ids = torch.cat((io["input_ids"], io["generate.tokens"]), dim=1)
        with torch.no_grad():
            full, _ = llama_forward(P, cfg, ids)
            cache = [(torch.zeros(ids.shape[0], cfg["num_key_value_heads"], 0, llama_head_dim(cfg)),) * 2
                     for _ in range(cfg["num_hidden_layers"])]
            steps = [llama_forward(P, cfg, ids[:, t:t + 1], cache=cache)[0] for t in range(ids.shape[1])]
        check(torch.allclose(torch.cat(steps, dim=1), full, atol=1e-4), f"{name}: cached decoding != full forward")
    cfg, sd = load_checkpoint(os.path.join(out_dir, "llama_lm"))
    P = OrderedDict((k, v.float()) for k, v in sd.items())
    io = results["llama_base"][2]
    with torch.no_grad():
        lm, _ = llama_forward(P, cfg, io["input_ids"], io["attention_mask"])
    check(torch.allclose(io["output"] @ P["model.embed_tokens.weight"].t(), lm, atol=1e-4), "llama base @ embed^T != logits")


def cross_checks(out_dir: str, by: dict, results: dict) -> None:
    """Checks across the GPT-2 / BERT / RoBERTa / DistilBERT cases."""
    ids = torch.tensor([[0, 5, 6, 1, 1], [1, 1, 0, 7, 2]])
    check(roberta_position_ids(ids, 1).tolist() == [[2, 3, 4, 1, 1], [1, 1, 2, 3, 4]], "roberta positions")

    # 4. same weights, different files: sharded == single; old layout == current; base hidden @ wte^T == lm logits
    check(torch.equal(rerun_with_inputs(out_dir, by["gpt2_lm"], results["gpt2_lm_sharded"][2]),
                      results["gpt2_lm_sharded"][0]), "sharded != unsharded")
    lm_left = rerun_with_inputs(out_dir, by["gpt2_lm"], results["gpt2_lm_old_layout"][2])
    check(torch.equal(lm_left, results["gpt2_lm_old_layout"][0]), "gpt2 old layout != current layout")
    bert_old_inputs = results["bert_mlm_old_layout"][2]
    check(torch.equal(rerun_with_inputs(out_dir, by["bert_mlm"], bert_old_inputs), results["bert_mlm_old_layout"][0]),
          "bert old layout != current layout")
    base_out, _, base_io = results["gpt2_base"]
    lm_right = rerun_with_inputs(out_dir, by["gpt2_lm_right_pad"], base_io)
    cfg, sd = load_checkpoint(os.path.join(out_dir, "gpt2_base"))
    check(torch.allclose(base_out @ sd["wte.weight"].t(), lm_right, atol=1e-5), "gpt2 base hidden @ wte^T != logits")
    # 5. f16 / bf16 close to f32 (loose: the weights were rounded)
    f16 = results["gpt2_lm_f16"]
    f32 = rerun_with_inputs(out_dir, by["gpt2_lm_right_pad"], f16[2])
    check(0 < float((f16[0] - f32).abs().max()) < 0.1, "gpt2 f16 vs f32")
    bf = results["bert_mlm_bf16"]
    b32 = rerun_with_inputs(out_dir, by["bert_mlm"], bf[2])
    check(0 < float((bf[0] - b32).abs().max()) < 0.5, "bert bf16 vs f32")
    # 6. GPT-2 left padding: real rows do not depend on what the padding tokens are
    _, _, lio = results["gpt2_lm_left_pad"]
    changed = OrderedDict(lio)
    changed["input_ids"] = lio["input_ids"].clone()
    changed["input_ids"][1, :3] = 5
    o2 = rerun_with_inputs(out_dir, by["gpt2_lm_left_pad"], changed)
    check(torch.allclose(o2[1, 3:], lio["output"][1, 3:], atol=1e-5), "gpt2 left pad leaks padding tokens")
    # 7. gelu_new vs torch's tanh approximation; HF's degenerate-row rule (see gpt2_forward)
    x = torch.linspace(-6, 6, 1001)
    check(torch.allclose(gelu_new(x), F.gelu(x, approximate="tanh"), atol=1e-6), "gelu_new")
    w = results["gpt2_lm_left_pad"][1]["transformer.h.0.attn.weights"]
    # query 0 of the left-padded row: keys {0} U {3..6} are exactly finfo.min, keys 1, 2 are -inf -> 1/5 each
    check(torch.allclose(w[1, :, 0], torch.tensor([.2, 0, 0, .2, .2, .2, .2]).expand(w.shape[1], -1)),
          "gpt2 degenerate row rule")
    # 9. BERT layer vs torch.nn.TransformerEncoderLayer (post-norm, gelu): an independent attention/FFN path
    bert_vs_torch_layer()


def rerun_with_inputs(out_dir: str, e: dict, io: Dict[str, Tensor]) -> Tensor:
    e2 = dict(e)
    e2["inputs"] = [k for k in ("input_ids", "attention_mask", "token_type_ids", "position_ids") if k in io]
    case_dir = os.path.join(out_dir, e["name"])
    cfg, sd = load_checkpoint(case_dir)
    prefix = FAMILY_PREFIX[e["family"]]
    P = OrderedDict((k, v.float()) for k, v in sd.items())
    case = Case(e["name"], e["family"], e["architecture"], e["base_model_saved_alone"], "")
    with torch.no_grad():
        out, _, _ = run_case(case, cfg, P, OrderedDict((k, io[k]) for k in e2["inputs"]),
                             "" if e["base_model_saved_alone"] else prefix)
    return out


def grad_check(out_dir: str, e: dict, io: Dict[str, Tensor]) -> None:
    case_dir = os.path.join(out_dir, e["name"])
    cfg, sd = load_checkpoint(case_dir)
    prefix = FAMILY_PREFIX[e["family"]]
    P = OrderedDict((k, v.double()) for k, v in sd.items())
    case = Case(e["name"], e["family"], e["architecture"], False, "")
    inputs = OrderedDict((k, io[k]) for k in e["inputs"])
    target = int(io["grad.target"][0])
    g = torch.Generator().manual_seed(7)
    for name in e["grad"]["params"]:
        ref = io["grad." + name].double().reshape(-1)
        # check the largest-gradient element and two random ones
        idx = [int(ref.abs().argmax())] + torch.randint(0, ref.numel(), (2,), generator=g).tolist()
        for j in idx:
            vals = []
            for sgn in (1, -1):
                Q = OrderedDict(P)
                t = Q[name].clone().reshape(-1)
                t[j] += sgn * 1e-6
                Q[name] = t.view_as(P[name])
                with torch.no_grad():
                    out, _, _ = run_case(case, cfg, Q, inputs, prefix)
                vals.append(float(out.reshape(-1)[target]))
            fd = (vals[0] - vals[1]) / 2e-6
            check(abs(fd - float(ref[j])) <= 1e-4 + 1e-3 * abs(fd),
                  f"{e['name']}: grad.{name}[{j}] = {float(ref[j])} but finite difference gives {fd}")


def bert_vs_torch_layer() -> None:
    cfg = bert_config("BertModel", 24, 3, 1, 40, 20, 16, "float32")
    P = random_params(bert_param_shapes(cfg, "", False, None), seed=9)
    ids = torch.tensor([[2, 5, 7, 9, 11, 0]])
    am = torch.tensor([[1, 1, 1, 1, 1, 0]])
    with torch.no_grad():
        out, attns, _ = bert_forward(P, cfg, ids, am, None, "", None)
        x = F.embedding(ids, P["embeddings.word_embeddings.weight"]) + \
            P["embeddings.token_type_embeddings.weight"][0] + P["embeddings.position_embeddings.weight"][:6]
        x = F.layer_norm(x, (24,), P["embeddings.LayerNorm.weight"], P["embeddings.LayerNorm.bias"], 1e-12)
        layer = torch.nn.TransformerEncoderLayer(24, 3, 40, dropout=0.0, activation="gelu", layer_norm_eps=1e-12,
                                                 batch_first=True).eval()
        p = "encoder.layer.0."
        mha = layer.self_attn
        mha.in_proj_weight.copy_(torch.cat([P[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]))
        mha.in_proj_bias.copy_(torch.cat([P[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]))
        mha.out_proj.weight.copy_(P[p + "attention.output.dense.weight"])
        mha.out_proj.bias.copy_(P[p + "attention.output.dense.bias"])
        layer.norm1.weight.copy_(P[p + "attention.output.LayerNorm.weight"])
        layer.norm1.bias.copy_(P[p + "attention.output.LayerNorm.bias"])
        layer.linear1.weight.copy_(P[p + "intermediate.dense.weight"])
        layer.linear1.bias.copy_(P[p + "intermediate.dense.bias"])
        layer.linear2.weight.copy_(P[p + "output.dense.weight"])
        layer.linear2.bias.copy_(P[p + "output.dense.bias"])
        layer.norm2.weight.copy_(P[p + "output.LayerNorm.weight"])
        layer.norm2.bias.copy_(P[p + "output.LayerNorm.bias"])
        ref = layer(x, src_key_padding_mask=(am == 0))
        _, w = mha(x, x, x, key_padding_mask=(am == 0), need_weights=True, average_attn_weights=False)
    check(torch.allclose(out, ref, atol=1e-5), "bert layer vs nn.TransformerEncoderLayer")
    check(torch.allclose(attns["encoder.layer.0.attention.self.weights"], w, atol=1e-6), "bert probs vs nn.MHA")


# ============================================================================================================
# entry point
# ============================================================================================================


def digest(out_dir: str) -> Dict[str, str]:
    out = {}
    for root, _, files in os.walk(out_dir):
        for f in sorted(files):
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, out_dir)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", nargs="?", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "test", "fixtures", "hf"))
    ap.add_argument("--verify", action="store_true", help="regenerate into a temporary folder and compare bytes")
    ap.add_argument("--only", help="comma-separated families to (re)write, keeping the other cases' files and "
                    "index entries (e.g. llama,qwen2)")
    args = ap.parse_args()
    if args.only:
        only = args.only.split(",")
        for name in os.listdir(args.out_dir):
            p = os.path.join(args.out_dir, name)
            if os.path.isdir(p) and any(name.startswith(f + "_") for f in only):
                shutil.rmtree(p)
        entries = build_all(args.out_dir, only)
        with open(os.path.join(args.out_dir, "index.json")) as f:
            kept = [e for e in json.load(f, object_pairs_hook=OrderedDict)["cases"] if e["family"] not in only]
        write_json(os.path.join(args.out_dir, "index.json"), index_doc(kept + entries))
        self_check(args.out_dir, entries)
        print(f"wrote {len(entries)} cases of {args.only} to {args.out_dir}")
        return
    if args.verify:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            entries = build_all(tmp)
            write_json(os.path.join(tmp, "index.json"), index_doc(entries))
            self_check(tmp, entries)
            a, b = digest(tmp), digest(args.out_dir)
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            check(not diff, f"committed fixtures differ from a fresh run: {diff}")
        print(f"verify ok: {args.out_dir} matches a fresh run byte for byte")
        return
    os.makedirs(args.out_dir, exist_ok=True)
    for name in os.listdir(args.out_dir):  # only what this script writes
        p = os.path.join(args.out_dir, name)
        if os.path.isdir(p) and re.match(r"^(gpt2|bert|roberta|distilbert|llama|qwen2)_", name):
            shutil.rmtree(p)
    entries = build_all(args.out_dir)
    write_json(os.path.join(args.out_dir, "index.json"), index_doc(entries))
    self_check(args.out_dir, entries)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out_dir) for f in fs)
    print(f"wrote {len(entries)} cases to {args.out_dir} ({total / 1024:.0f} KiB)")


def index_doc(entries: List[dict]) -> dict:
    return OrderedDict([
        ("generator", "tools/hf_reference.py"),
        ("doc", "docs/hf-reference.md"),
        ("io", OrderedDict([
            ("input_ids", "I64 [B, L]"), ("attention_mask", "I64 [B, L], 1 keep / 0 padding (where used)"),
            ("token_type_ids", "I64 [B, L] (where used)"),
            ("position_ids", "I64 [B, L] (gpt2_lm_left_pad_genpos only)"),
            ("output", "F32: logits [B, L, V] for *LMHeadModel / *ForMaskedLM, last_hidden_state [B, L, E] for base"),
            ("pooler_output", "F32 [B, E] (bert_base, roberta_base)"),
            ("<module path>.weights", "F32 [B, H, L, S]: HF output_attentions for that layer"),
            ("grad.target", "I64 [1]: flat index into output of the scalar differentiated"),
            ("grad.<param>", "F32, d output.flatten()[target] / d param (state_dict name)"),
            ("<module path>.weights.grad", "F32 [B, H, L, S]: d output.flatten()[target] / d attention probs"),
        ])),
        ("cases", entries),
    ])


if __name__ == "__main__":
    main()
