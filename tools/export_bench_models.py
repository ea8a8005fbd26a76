#!/usr/bin/env python3
"""Build the peer-benchmark models once in PyTorch and write everything `npm run bench` compares.

For each config (seq-first nn.Transformer, batch 1, causal tgt mask, fixed seed), into --out (bench/models/):
    <name>.safetensors      attnscope model file (export_torch.save)
    <name>.onnx             torch.onnx.export, opset 14, inputs src, tgt, tgt_mask, output `output`, eval mode
    <name>.io.safetensors   the inputs (src [L,1,E], tgt [L,1,E], tgt_mask [L,L] float 0/-inf) and PyTorch's output
    <name>.json             config, seed, torch version, the exported graph's inputs and op histogram
    <name>.torch.json       PyTorch CPU forward latency: median of --repeats after --warmup, on all CPU threads
                            and on one thread (oneThread)

--time-only rebuilds each model from its seed (same weights, same inputs), checks its output against the stored
one and rewrites only <name>.torch.json: `npm run bench` does this on every run so the PyTorch number is measured
in the same run as the others.

Which path torch 1.13 takes: nn.Transformer is seq-first here (batch_first=False), which rules out both fast
paths (torch._transformer_encoder_layer_fwd and torch._native_multi_head_attention need batch_first), so the
forward, the timing and the ONNX export all run the regular Python path (F.multi_head_attention_forward). To
prove it, the fast-path entry points are replaced by functions that raise while this script runs a model.
torch.onnx.export in 1.13 is the TorchScript exporter: it serialises the graph in C++ and needs no `onnx` package.

    /usr/bin/python3 tools/export_bench_models.py [--configs small,medium,large] [--out bench/models]
        [--repeats 10] [--warmup 3] [--time-only]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import statistics
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch  # noqa: E402

CONFIGS = {
    "small": dict(num_encoder_layers=2, num_decoder_layers=2, d_model=64, nhead=4, dim_feedforward=256, length=16),
    "medium": dict(num_encoder_layers=4, num_decoder_layers=4, d_model=256, nhead=8, dim_feedforward=1024, length=64),
    "large": dict(num_encoder_layers=6, num_decoder_layers=6, d_model=512, nhead=8, dim_feedforward=2048, length=128),
}
SEED = 20240611
OPSET = 14
INPUT_NAMES = ["src", "tgt", "tgt_mask"]


@contextlib.contextmanager
def no_fast_path():
    """Any call into torch 1.13's fused transformer fast path raises (see the module docstring)."""
    names = ("_transformer_encoder_layer_fwd", "_native_multi_head_attention", "_nested_tensor_from_mask")
    saved = {n: getattr(torch, n) for n in names if hasattr(torch, n)}

    def refuse(name):
        def f(*args, **kwargs):
            raise export_torch.FastPathUsed(f"torch.{name} was called: the fast path was taken")
        return f

    try:
        for n in saved:
            setattr(torch, n, refuse(n))
        yield
    finally:
        for n, f in saved.items():
            setattr(torch, n, f)


def build(name: str):
    """The model (eval mode) and inputs of a config: same seed, same bytes on every call."""
    c = CONFIGS[name]
    torch.manual_seed(SEED)
    model = nn.Transformer(d_model=c["d_model"], nhead=c["nhead"], num_encoder_layers=c["num_encoder_layers"],
                           num_decoder_layers=c["num_decoder_layers"], dim_feedforward=c["dim_feedforward"],
                           dropout=0.0, batch_first=False).eval()
    L, E = c["length"], c["d_model"]
    src = torch.randn(L, 1, E)  # [S, B, E]
    tgt = torch.randn(L, 1, E)  # [T, B, E]
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(L)  # [T, T] float: 0 on/below the diagonal, -inf above
    return model, {"src": src, "tgt": tgt, "tgt_mask": tgt_mask}


def forward(model, x):
    with torch.inference_mode(), no_fast_path():
        return model(x["src"], x["tgt"], tgt_mask=x["tgt_mask"])


def time_forward(model, x, repeats: int, warmup: int):
    samples = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        forward(model, x)
        ms = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            samples.append(ms)
    return samples


def export_onnx(model, x, path: str):
    """TorchScript ONNX export (eval mode, constants folded); returns the graph's inputs and op histogram."""
    args = (x["src"], x["tgt"], {"tgt_mask": x["tgt_mask"]})
    with no_fast_path():
        torch.onnx.export(model, args, path, opset_version=OPSET, input_names=INPUT_NAMES, output_names=["output"],
                          training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
        pretty = torch.onnx.export_to_pretty_string(model, args, opset_version=OPSET, input_names=INPUT_NAMES,
                                                    output_names=["output"], training=torch.onnx.TrainingMode.EVAL,
                                                    do_constant_folding=True)
    ops = collections.Counter(re.findall(r'Node \{type: "([A-Za-z0-9_]+)"', pretty))
    m = re.search(r"inputs: \[(.*?)\]\n", pretty)
    inputs = re.findall(r'name: "([^"]+)"', m.group(1)) if m else []
    if inputs != INPUT_NAMES:
        raise RuntimeError(f"{path}: exported graph inputs {inputs}, expected {INPUT_NAMES}")
    return {"opset": OPSET, "inputs": inputs, "ops": dict(sorted(ops.items(), key=lambda kv: -kv[1]))}


def write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def timing_record(name, samples, threads, output_check=None):
    rec = {
        "config": name,
        "torch": torch.__version__,
        "blas": export_torch.blas_library(),
        "threads": threads,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "medianMs": statistics.median(samples),
        "minMs": min(samples),
        "samplesMs": samples,
    }
    if output_check is not None:
        rec["maxAbsDiffVsStoredOutput"] = output_check
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="small,medium")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "models"))
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--time-only", action="store_true", help="rebuild, check against the stored output, time")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    for n in names:
        if n not in CONFIGS:
            ap.error(f"unknown config {n!r} (known: {', '.join(CONFIGS)})")
    if args.repeats < 1 or args.warmup < 0:
        ap.error("--repeats must be >= 1 and --warmup >= 0")
    os.makedirs(args.out, exist_ok=True)
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    for name in names:
        t0 = time.perf_counter()
        base = os.path.join(args.out, name)
        model, x = build(name)
        out = forward(model, x)
        check = None
        if args.time_only:
            stored, _ = export_torch.load_tensors(base + ".io.safetensors")
            check = float((torch.from_numpy(stored["output"].copy()) - out).abs().max())
            if check > 1e-5:
                raise RuntimeError(f"{name}: rebuilt model's output differs from {base}.io.safetensors by {check:.3g}: "
                                   "the seed no longer gives the same model; delete bench/models/ to re-export")
        else:
            # The reference output on the same regular path the attnscope parity fixtures use (grad on, proven).
            with export_torch.regular_path(model):
                ref = model(x["src"], x["tgt"], tgt_mask=x["tgt_mask"]).detach()
            if not torch.equal(ref, out):
                print(f"{name}: note: inference-mode and regular-path outputs differ by "
                      f"{float((ref - out).abs().max()):.3g}", file=sys.stderr)
            export_torch.save(model, base + ".safetensors")
            export_torch.save_tensors(base + ".io.safetensors", {**x, "output": ref})
            onnx = export_onnx(model, x, base + ".onnx")
            c = CONFIGS[name]
            write_json(base + ".json", {
                "config": name, **c, "batch": 1, "batch_first": False, "activation": "relu", "seed": SEED,
                "parameters": sum(p.numel() for p in model.parameters()), "torch": torch.__version__,
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "onnx": onnx, "files": [name + s for s in (".safetensors", ".onnx", ".io.safetensors")],
            })
        samples = time_forward(model, x, args.repeats, args.warmup)
        rec = timing_record(name, samples, threads, check)
        note = ""
        if threads > 1:
            # Also on one thread: on a loaded machine OpenMP's barriers wait for a core that another process
            # holds (each parallel region costs a scheduler time slice), which one thread never does.
            torch.set_num_threads(1)
            one = time_forward(model, x, args.repeats, args.warmup)
            torch.set_num_threads(threads)
            rec["oneThread"] = {"medianMs": statistics.median(one), "minMs": min(one), "samplesMs": one}
            note = f", {statistics.median(one):.2f} ms on 1 thread"
        write_json(base + ".torch.json", rec)
        what = "timed" if args.time_only else "exported"
        print(f"{name}: {what} in {time.perf_counter() - t0:.1f} s; torch {torch.__version__} CPU forward "
              f"median {statistics.median(samples):.2f} ms over {len(samples)} ({threads} threads){note}"
              + (f"; output matches the stored one (max diff {check:.2g})" if check is not None else ""))
    blas = export_torch.blas_library()
    if blas is not None and not any(k in blas for k in ("openblas", "mkl", "blis")):
        print(f"warning: PyTorch ran on the BLAS {blas}, not an optimised one: its times are far slower than they can be "
              "(on Debian: apt-get install libopenblas0-pthread)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
