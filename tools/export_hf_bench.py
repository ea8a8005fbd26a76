#!/usr/bin/env python3
"""Write the GPT-2-small-shaped benchmark model that `npm run bench -- --configs gpt2` runs, from the plain-torch
port in tools/hf_reference.py (no `transformers` here), into --out (bench/models/):

    gpt2-f32/, gpt2-f16/   GPT2LMHeadModel (12 layers, n_embd 768, 12 heads, vocab 50257, n_positions 1024),
                           random weights (fixed seed), as save_pretrained writes it: config.json + model.safetensors
                           in F32 and in F16. The weights are rounded to f16 first, so both hold the same values and
                           one reference fits both.
    gpt2.onnx              the same model for onnxruntime-web, as transformers.js runs GPT-2 (one decoder with past
                           key/values): inputs input_ids [1, L] (int64) and past_key_values.{i}.key / .value
                           [1, 12, P, 64] (P may be 0: the prompt's forward); outputs logits [1, L, V],
                           present.{i}.key / .value [1, 12, P+L, 64] and attentions.{i} [1, 12, L, P+L] -- every
                           layer's attention probabilities, which transformers.js' stock exports do not return
    gpt2.io.safetensors    input_ids [1, 128] (I64), the reference logits [1, 128, V], each layer's attention
                           (transformer.h.{i}.attn.weights [1, 12, 128, 128]) and the 32 greedy tokens after the
                           prompt (generated, I64 [32]) -- all from gpt2_forward in f32
    gpt2.json              shape, seed, parameter count, file sizes, the exported graph's op histogram

torch.onnx.export in torch 1.13 is the TorchScript exporter: it needs no `onnx` package.

    /usr/bin/python3 tools/export_hf_bench.py [--out bench/models]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as ref  # noqa: E402

SHAPE = dict(E=768, H=12, nl=12, V=50257, Pn=1024)
LENGTH = 128
NEW_TOKENS = 32
SEED = 20240612
OPSET = 14
PREFIX = "transformer."


class WithPast(torch.nn.Module):
    """A reference forward (gpt2_forward, llama_forward) as a module for torch.onnx.export: the state dict as
    parameters, the cache as flat inputs."""

    def __init__(self, sd, cfg, forward=ref.gpt2_forward, prefix=PREFIX):
        super().__init__()
        self.names = list(sd)
        self.weights = torch.nn.ParameterList([torch.nn.Parameter(t, requires_grad=False) for t in sd.values()])
        self.cfg, self.fwd, self.prefix = cfg, forward, prefix

    def forward(self, input_ids, *past):
        P = dict(zip(self.names, self.weights))
        cache = [(past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2)]
        logits, attns = self.fwd(P, self.cfg, input_ids, prefix=self.prefix, cache=cache)
        return (logits, *[t for kv in cache for t in kv], *attns.values())


def empty_cache(layers, heads, D):
    return [(torch.zeros(1, heads, 0, D), torch.zeros(1, heads, 0, D)) for _ in range(layers)]


def greedy(P, cfg, ids, n, cache, forward=ref.gpt2_forward, prefix=PREFIX):
    """n greedy tokens after ids, with the cache (as *ForCausalLM.generate with use_cache runs it)."""
    out, x = [], ids
    for _ in range(n):
        logits, _ = forward(P, cfg, x, prefix=prefix, cache=cache)
        out.append(int(logits[0, -1].argmax()))
        x = torch.tensor([[out[-1]]])
    return out


def write_checkpoints(out, stem, cfg, sd):
    """STEM-f32/ and STEM-f16/ (config.json + model.safetensors) holding the same values (sd is rounded to f16 first,
    so one reference fits both); returns each model.safetensors' size by folder name."""
    sizes = {}
    for dtype, name in (("float32", f"{stem}-f32"), ("float16", f"{stem}-f16")):
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        ref.write_config(d, {**cfg, "torch_dtype": dtype})
        ref.write_checkpoint(d, sd, dtype)
        sizes[name] = os.path.getsize(os.path.join(d, "model.safetensors"))
    return sizes


def reference_outputs(sd, cfg, ids, new_tokens, nl, kv_heads, head_dim, forward=ref.gpt2_forward, prefix=PREFIX):
    """The plain forward's logits and attentions, the cached forward's largest difference from it (the prompt in two
    pieces; refused above 1e-3, since the ONNX export and the greedy tokens use the cached path) and new_tokens greedy
    tokens after ids."""
    with torch.no_grad():
        logits, attns = forward(sd, cfg, ids, prefix=prefix)
        cache = empty_cache(nl, kv_heads, head_dim)
        split = forward(sd, cfg, ids[:, :100], prefix=prefix, cache=cache)[0]
        rest = forward(sd, cfg, ids[:, 100:], prefix=prefix, cache=cache)[0]
        err = float((torch.cat((split, rest), dim=1) - logits).abs().max())
        ref.check(err < 1e-3, f"cached forward differs from the plain one by {err:.3g}")
        generated = greedy(sd, cfg, ids, new_tokens, empty_cache(nl, kv_heads, head_dim), forward, prefix)
    return logits, attns, err, generated


def bench_metadata(config, model_type, architecture, shape, length, new_tokens, seed, sd, sizes, onnx_path, onnx, err):
    """NAME.json: the bench's shape fields (n_layer, n_embd, n_head, ... in the order given), the run's length and
    token count, the seed, parameter count, torch version, date, file sizes, the ONNX graph's op histogram and the
    cached-vs-plain difference."""
    return {
        "config": config, "model_type": model_type, "architecture": architecture, **shape,
        "length": length, "new_tokens": new_tokens, "seed": seed,
        "parameters": sum(t.numel() for t in sd.values()), "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checkpointBytes": sizes, "onnxBytes": os.path.getsize(onnx_path), "onnx": onnx,
        "cachedVsPlainMaxDiff": err,
    }


def report(config, out, t0, sizes, f16_dir, onnx_path, err, generated):
    print(f"{config}: wrote {out} in {time.perf_counter() - t0:.0f} s (F16 checkpoint {sizes[f16_dir] / 2**20:.0f} MiB, "
          f"ONNX {os.path.getsize(onnx_path) / 2**20:.0f} MiB; cached vs plain {err:.2g}; greedy {generated[:8]}...)")


def export_onnx(model, ids, path, nl, past_heads, head_dim):
    """torch.onnx.export of a WithPast: inputs input_ids and past_key_values.{i}.key / .value [1, past_heads, P,
    head_dim] for nl layers; outputs logits, present.{i}.key / .value and attentions.{i}."""
    past_names = [f"past_key_values.{i}.{kv}" for i in range(nl) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(nl) for kv in ("key", "value")]
    attn_names = [f"attentions.{i}" for i in range(nl)]
    axes = {"input_ids": {1: "sequence"}, "logits": {1: "sequence"}}
    axes.update({n: {2: "past_sequence"} for n in past_names})
    axes.update({n: {2: "total_sequence"} for n in present_names})
    axes.update({n: {2: "sequence", 3: "total_sequence"} for n in attn_names})
    # Traced with a past of 2 positions so that concatenation, positions and the causal slice are recorded with
    # the past length as a variable (a 0-length trace could fold them away).
    past = [torch.randn(1, past_heads, 2, head_dim) for _ in past_names]
    kw = dict(opset_version=OPSET, input_names=["input_ids", *past_names],
              output_names=["logits", *present_names, *attn_names], dynamic_axes=axes,
              training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
    # The exporter needs LayerNorm's normalized_shape as a constant (nn.LayerNorm holds it; the port reads it off
    # the input, which the tracer records as a Shape op): the same function with the width fixed.
    layer_norm = ref.layer_norm
    width = model.cfg.get("n_embd")
    ref.layer_norm = lambda x, P, name, eps: F.layer_norm(x, (width,), P[name + ".weight"], P[name + ".bias"], eps)
    try:
        with torch.no_grad():
            torch.onnx.export(model, (ids[:, :3], *past), path, **kw)
            pretty = torch.onnx.export_to_pretty_string(model, (ids[:, :3], *past), **kw)
    finally:
        ref.layer_norm = layer_norm
    ops = collections.Counter(re.findall(r'Node \{type: "([A-Za-z0-9_]+)"', pretty))
    return {"opset": OPSET, "inputs": ["input_ids", *past_names], "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1]))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "models"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = ref.gpt2_config("GPT2LMHeadModel", SHAPE["E"], SHAPE["H"], SHAPE["nl"], SHAPE["V"], SHAPE["Pn"], "float32")
    sd = ref.rounded(ref.random_params(ref.gpt2_param_shapes(cfg, PREFIX), SEED), "float16")
    g = torch.Generator().manual_seed(SEED + 1)
    ids = torch.randint(0, SHAPE["V"], (1, LENGTH), generator=g)

    # save_pretrained leaves out lm_head.weight (tied to transformer.wte.weight)
    sizes = write_checkpoints(args.out, "gpt2", cfg, sd)

    H, D = SHAPE["H"], SHAPE["E"] // SHAPE["H"]
    logits, attns, err, generated = reference_outputs(sd, cfg, ids, NEW_TOKENS, SHAPE["nl"], H, D)
    ref.st_write(os.path.join(args.out, "gpt2.io.safetensors"),
                 {"input_ids": ids, "logits": logits, **attns, "generated": torch.tensor(generated)})

    onnx_path = os.path.join(args.out, "gpt2.onnx")
    onnx = export_onnx(WithPast(sd, cfg).eval(), ids, onnx_path, SHAPE["nl"], H, D)
    shape = {"n_layer": SHAPE["nl"], "n_embd": SHAPE["E"], "n_head": SHAPE["H"], "vocab_size": SHAPE["V"],
             "n_positions": SHAPE["Pn"]}
    ref.write_json(os.path.join(args.out, "gpt2.json"), bench_metadata(
        "gpt2", "gpt2", "GPT2LMHeadModel", shape, LENGTH, NEW_TOKENS, SEED, sd, sizes, onnx_path, onnx, err))
    report("gpt2", args.out, t0, sizes, "gpt2-f16", onnx_path, err, generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
