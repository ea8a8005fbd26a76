#!/usr/bin/env python3
"""Mid-size PyTorch fixtures: the shapes people run (d_model 512-768, head dim 64, length 160-384).

    /usr/bin/python3 tools/make_midsize_fixtures.py            # writes test/fixtures/midsize/<name>.safetensors
    /usr/bin/python3 tools/make_midsize_fixtures.py --verify   # recomputes each and compares with the file (export_torch.reproduced)

The weights (tens of MB) and the float inputs are not stored: they are drawn from mulberry32 (the generator of
src/model/sampling.ts) in the order the file's metadata lists, each tensor uniform in its [lo, hi), and the file
keeps the SHA-256 of their f32 bytes so the test knows it rebuilt the same model. Stored: masks, and at a sample of
positions (`<name>.rows`, I32, along the dimension `sampled[name]` of the metadata says):
  output                     the model's output
  <attention>.weights        probabilities [B, H, L, S] at sampled query rows
  <attention>.weights_grad   their gradient for the backward of `seed` (regenerated too) through the output
  src.grad / tgt.grad        input gradients
  param.<name>               parameter gradients (1-D ones whole, matrices at sampled rows)
Each forward and backward runs on PyTorch's regular path (tools/export_torch.py regular_path), eval mode, one
thread.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sys
from collections import OrderedDict
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as ex  # noqa: E402
import make_fixtures as mf  # noqa: E402
from make_grad_fixtures import attention_softmaxes  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test", "fixtures", "midsize")

CONFIGS: List[Dict[str, Any]] = [
    mf._c("transformer-d512-h8-s160-t128", "transformer",
          "nn.Transformer 1+1 post-norm relu layers, d_model 512, 8 heads (head dim 64), ff 1024, [L,B,E], S=160 "
          "T=128, causal tgt_mask, src padding",
          E=512, H=8, F=1024, enc=1, dec=1, B=1, S=160, T=128,
          masks=dict(tgt_mask="causal_bool", src_key_padding_mask="right", memory_key_padding_mask="same")),
    mf._c("encoder-d768-h12-len384", "encoder",
          "TransformerEncoder, 1 pre-norm gelu layer + final norm, d_model 768, 12 heads (head dim 64), ff 768, "
          "[B,L,E], L=384, eps 1e-6, key padding",
          E=768, H=12, F=768, enc=1, act="gelu", pre=True, bf=True, eps=1e-6, norm=True, B=1, S=384,
          masks=dict(src_key_padding_mask="right")),
]

# Positions sampled along every sequence (with its last): both sides of 64, 128 and 256.
POSITIONS = [0, 1, 63, 64, 127, 128, 255, 256]
# Rows sampled of each parameter matrix (those past its height are dropped): in_proj's q / k / v block edges too.
PARAM_ROWS = [0, 63, 64, 511, 512, 767, 768, 1535, 1536, 2303]


def mulberry32(seed: int, start: int, n: int) -> np.ndarray:
    """Values start .. start + n - 1 of mulberry32(seed) (src/model/sampling.ts), as float64 in [0, 1)."""
    k = np.arange(start + 1, start + n + 1, dtype=np.uint64)
    s = ((np.uint64(seed) + k * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    with np.errstate(over="ignore"):
        t = (s ^ (s >> np.uint32(15))) * (s | np.uint32(1))
        t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
        t = t ^ (t >> np.uint32(14))
    return t.astype(np.float64) / 4294967296.0


class Stream:
    """Draws consecutive values of one mulberry32 stream into f32 tensors, uniform in [lo, hi)."""

    def __init__(self, seed: int):
        self.seed, self.at = seed, 0
        self.sha = hashlib.sha256()

    def draw(self, shape: Tuple[int, ...], lo: float, hi: float) -> np.ndarray:
        n = int(np.prod(shape))
        u = mulberry32(self.seed, self.at, n)
        self.at += n
        a = (lo + (hi - lo) * u).astype(np.float32).reshape(shape)
        self.sha.update(a.tobytes())
        return a


def init_range(name: str, shape: Tuple[int, ...]) -> Tuple[float, float]:
    """make_fixtures.randomize_'s ranges: xavier for matrices (in_proj x1.5), LayerNorm weights around 1, else +-0.2."""
    if len(shape) == 2:
        fan_out, fan_in = shape
        if name.endswith("in_proj_weight"):
            fan_out //= 3
        b = math.sqrt(6.0 / (fan_in + fan_out)) * (1.5 if name.endswith("in_proj_weight") else 1.0)
        return -b, b
    if re.search(r"(^|\.)norm\d?\.weight$", name):
        return 0.75, 1.25
    return -0.2, 0.2


def build(cfg: Dict[str, Any], seed: int):
    """The module with its weights and float inputs drawn from the stream, the masks, the backward's seed."""
    module = mf.build_module(cfg, seed)
    mcfg = ex.infer_config(module)
    stream = Stream(seed)
    state = module.state_dict()
    spec = []
    with torch.no_grad():
        for name, shape in ex.expected_shapes(mcfg).items():
            lo, hi = init_range(name, shape)
            state[name].copy_(torch.from_numpy(stream.draw(shape, lo, hi)))
            spec.append([name, lo, hi])
    masks = {n: t for n, t in mf.make_inputs(cfg, seed, module).items() if n not in ("src", "tgt", "memory")}
    B, E, bf = cfg["B"], cfg["E"], cfg["bf"]
    lens = {"src": cfg["S"], "tgt": cfg.get("T")}
    float_inputs = [n for n in ("src", "tgt") if n in mf._KIND_INPUTS[cfg["kind"]]]
    inputs, input_spec = OrderedDict(), []
    r = math.sqrt(3.0)  # unit variance
    for n in float_inputs:
        shape = (B, lens[n], E) if bf else (lens[n], B, E)
        inputs[n] = torch.from_numpy(stream.draw(shape, -r, r))
        input_spec.append([n, list(shape), -r, r])
    out_len = lens["tgt"] if cfg["kind"] == "transformer" else lens["src"]
    out_shape = (B, out_len, E) if bf else (out_len, B, E)
    seed_grad = torch.from_numpy(stream.draw(out_shape, -1.0, 1.0))
    for n in mf._KIND_INPUTS[cfg["kind"]]:
        if n in masks:
            inputs[n] = masks[n]
    meta = dict(config=mcfg, seed=seed, weights=spec, inputs=input_spec, backward_seed=list(out_shape),
                sha256=stream.sha.hexdigest())
    return module.eval(), inputs, seed_grad, meta


def run(cfg: Dict[str, Any], seed: int):
    torch.manual_seed(0)
    module, inputs, seed_grad, meta = build(cfg, seed)
    float_inputs = [n for n in ("src", "tgt") if n in inputs]
    for n in float_inputs:
        inputs[n].requires_grad_(True)
    with attention_softmaxes(module) as probs, ex.regular_path(module):
        out = mf.forward(module, cfg["kind"], inputs)
        module.zero_grad(set_to_none=True)
        out.backward(seed_grad)
    seq_dim = 1 if cfg["bf"] else 0
    lens = {"src": cfg["S"], "tgt": cfg.get("T")}
    rows = {k: [p for p in POSITIONS if p < L] + [L - 1] for k, L in lens.items() if L}
    stored: "OrderedDict[str, np.ndarray]" = OrderedDict()
    sampled: Dict[str, int] = {}

    def keep(name: str, t: torch.Tensor, dim: int, idx: List[int]):
        stored[name] = t.detach().index_select(dim, torch.tensor(idx)).numpy()
        stored[name + ".rows"] = np.array(idx, dtype=np.int32)
        sampled[name] = dim

    keep("output", out, seq_dim, rows["tgt" if cfg["kind"] == "transformer" else "src"])
    for n in float_inputs:
        keep(f"{n}.grad", inputs[n].grad, seq_dim, rows[n])
    seen = set()
    for (path, H), y in probs:
        if path in seen:
            raise RuntimeError(f"{path}: attention ran twice")
        seen.add(path)
        BH, L, S = y.shape
        shape = (BH // H, H, L, S)
        q = rows["src" if ".encoder." in f".{path}" or cfg["kind"] == "encoder" else "tgt"]
        keep(f"{path}.weights", y.detach().reshape(shape), 2, q)
        keep(f"{path}.weights_grad", y.grad.reshape(shape), 2, q)
    for name, p in module.named_parameters():
        if p.grad is None:
            raise RuntimeError(f"{name}: no gradient reached it")
        if p.dim() == 1:
            stored[f"param.{name}"] = p.grad.numpy().copy()
        else:
            keep(f"param.{name}", p.grad, 0, [r for r in PARAM_ROWS if r < p.shape[0]])
    for n, m in inputs.items():
        if not m.is_floating_point():
            stored[n] = m.numpy()
    for n, a in stored.items():
        if a.dtype == np.float32 and not np.isfinite(a).all():
            raise RuntimeError(f"{cfg['name']}: {n} has non-finite values")
    meta.update(name=cfg["name"], description=cfg["description"], kind=cfg["kind"], sampled=sampled,
                torch_version=torch.__version__)
    return stored, meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT_DIR)
    ap.add_argument("--verify", action="store_true", help="recompute and compare with the files already there")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    for cfg in CONFIGS:
        path = os.path.join(args.out, f"{cfg['name']}.safetensors")
        stored, meta = run(cfg, mf.default_seed(cfg))
        drift = 0.0
        if args.verify:
            have, have_meta = ex.load_tensors(path)
            if json.loads(have_meta["midsize"]) != json.loads(json.dumps(meta)):
                raise AssertionError(f"{path}: metadata differs from a fresh run")
            if sorted(have) != sorted(stored):
                raise AssertionError(f"{path}: tensors {sorted(have)} != {sorted(stored)}")
            drift = max(ex.reproduced(f"{path}: {n}", a, have[n]) for n, a in stored.items())
        else:
            ex.save_tensors(path, stored, {"midsize": json.dumps(meta, separators=(",", ":"))})
        print(f"{cfg['name']:32s} {os.path.getsize(path) / 1024:7.1f} KiB  {len(stored)} tensors  sha256 {meta['sha256'][:12]}"
              f"{'  verified' if args.verify else ''}")
        if drift:
            print(ex.not_bit_for_bit(drift))
    return 0


if __name__ == "__main__":
    sys.exit(main())
