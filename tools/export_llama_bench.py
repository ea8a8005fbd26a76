#!/usr/bin/env python3
"""Write the SmolLM-135M-shaped benchmark model that `npm run bench -- --configs smollm` runs, from the plain-torch
Llama port in tools/hf_reference.py (no `transformers` here), into --out (bench/models/):

    smollm-f16/, smollm-f32/
                           LlamaForCausalLM shaped as SmolLM-135M (30 layers, hidden 576, 9 heads on 3 KV heads,
                           intermediate 1536, vocab 49152, tied embeddings, rope_theta 10000), random weights (fixed
                           seed, rounded to f16), as save_pretrained writes it: config.json + model.safetensors in F16
                           and in F32 (the same values; bench/hf.ts compares their load time and GPU memory)
    smollm.onnx            the same model for onnxruntime-web with past key/values (as transformers.js runs Llama):
                           inputs input_ids [1, L] (int64) and past_key_values.{i}.key / .value [1, 3, P, 64] (P may
                           be 0); outputs logits [1, L, V], present.{i}.key / .value [1, 3, P+L, 64] and attentions.{i}
                           [1, 9, L, P+L]; positions continue from P (the rotary angles are computed in the graph)
    smollm.io.safetensors  input_ids [1, 128] (I64), the reference logits, each layer's attention
                           (model.layers.{i}.self_attn.weights [1, 9, 128, 128]) and the 32 greedy tokens after the
                           prompt (generated, I64 [32]) -- all from llama_forward in f32
    smollm.json            shape, seed, parameter count, file sizes, the exported graph's op histogram

    /usr/bin/python3 tools/export_llama_bench.py [--out bench/models]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as ref  # noqa: E402
from export_hf_bench import WithPast, bench_metadata, export_onnx, reference_outputs, report, write_checkpoints  # noqa: E402

SHAPE = dict(E=576, H=9, KVH=3, nl=30, I=1536, V=49152, Pn=2048)
LENGTH = 128
NEW_TOKENS = 32
SEED = 20261202
PREFIX = "model."


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "models"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    torch.set_num_threads(os.cpu_count() or 1)
    s = SHAPE
    cfg = ref.llama_config("llama", "LlamaForCausalLM", s["E"], s["H"], s["KVH"], s["nl"], s["I"], s["V"], s["Pn"],
                           "float16", True, 10000.0)
    # HF's init scale (std 0.02) keeps a 30-layer stack's activations sane; rmsnorm weights near 1
    shapes = ref.llama_param_shapes(cfg, PREFIX, True)
    sd = ref.rounded(ref.random_params(shapes, SEED), "float16")
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, s["V"], (1, LENGTH), generator=g)
    sizes = write_checkpoints(args.out, "smollm", cfg, sd)

    KVH, D = s["KVH"], s["E"] // s["H"]
    logits, attns, err, generated = reference_outputs(sd, cfg, ids, NEW_TOKENS, s["nl"], KVH, D, ref.llama_forward, PREFIX)
    ref.st_write(os.path.join(args.out, "smollm.io.safetensors"),
                 {"input_ids": ids, "logits": logits, **attns, "generated": torch.tensor(generated)})

    onnx_path = os.path.join(args.out, "smollm.onnx")
    # Traced with a past of 2 positions and 3 new ones: the causal mask's triu path (L != 1) is recorded, which is
    # right for one new token too (the rows past the cache position are blocked either way).
    onnx = export_onnx(WithPast(sd, cfg, ref.llama_forward, PREFIX).eval(), ids, onnx_path, s["nl"], KVH, D)
    shape = {"n_layer": s["nl"], "n_embd": s["E"], "n_head": s["H"], "n_kv_head": s["KVH"],
             "intermediate_size": s["I"], "vocab_size": s["V"]}
    ref.write_json(os.path.join(args.out, "smollm.json"), bench_metadata(
        "smollm", "llama", "LlamaForCausalLM", shape, LENGTH, NEW_TOKENS, SEED, sd, sizes, onnx_path, onnx, err))
    report("smollm", args.out, t0, sizes, "smollm-f16", onnx_path, err, generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
