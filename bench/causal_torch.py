#!/usr/bin/env python3
"""The PyTorch CPU loop bench/causal.ts compares against: one forward per patched site (TransformerLens's way), one
forward + backward per integrated-gradients step (Captum's internal_batch_size=1), on the same model and inputs.

    /usr/bin/python3 bench/causal_torch.py KIND MODEL INPUTS.safetensors SITES STEPS   -> one JSON line on stdout

KIND transformer: MODEL is an attnscope nn.Transformer file (float src / tgt [L, 1, E]); sites are the encoder and
decoder layers' outputs at each position, IG attributes output[-1, 0, 0] to src and tgt together.
KIND gpt2: MODEL is a checkpoint directory (tools/hf_reference.py's gpt2_forward); sites are transformer.h.i's
outputs at each position, IG attributes the last position's logit 0 at the token embeddings.
SITES: how many sites are timed (the first ones, layer-major); the loop's total is their mean times the site count.
"""
import json
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_torch as ex  # noqa: E402
import hf_reference as hf  # noqa: E402
from export_bench_models import blas_library  # noqa: E402
from make_causal_fixtures import Edits, HfRef  # noqa: E402


def transformer(path, inputs):
    cfg, tensors = ex.load_model_file(path)
    m = nn.Transformer(cfg["d_model"], cfg["nhead"], cfg["num_encoder_layers"], cfg["num_decoder_layers"], cfg["dim_feedforward"],
                       dropout=0.0, activation=cfg["activation"], layer_norm_eps=cfg["layer_norm_eps"], batch_first=cfg["batch_first"],
                       norm_first=cfg["norm_first"])
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()})
    m.eval()
    src, tgt = inputs["src"], inputs["tgt"]
    layers = list(m.encoder.layers) + list(m.decoder.layers)

    def run(edit=None, x=None):
        handles = []
        if edit is not None:
            i, p, v = edit
            handles.append(layers[i].register_forward_hook(lambda mod, inp, out: torch.cat([out[:p], v.view(1, 1, -1), out[p + 1:]])))
        try:
            s, t = x if x is not None else (src, tgt)
            return m(s, t, tgt_mask=nn.Transformer.generate_square_subsequent_mask(t.shape[0]))
        finally:
            for h in handles:
                h.remove()

    with torch.no_grad():
        rec = []
        handles = [l.register_forward_hook(lambda mod, inp, out: rec.append(out.detach())) for l in layers]
        run()
        for h in handles:
            h.remove()
    sites = [(i, p) for i in range(len(layers)) for p in range(rec[i].shape[0])]

    def patch(i, p):
        with torch.no_grad():
            return run((i, p, rec[i][p, 0]))[-1, 0, 0]

    def ig_step(alpha):
        s = (alpha * src).requires_grad_(True)
        t = (alpha * tgt).requires_grad_(True)
        run(x=(s, t))[-1, 0, 0].backward()
        return s.grad, t.grad

    return m, sites, patch, ig_step


def gpt2(path, inputs):
    ref = HfRef(path, "gpt2", {"input_ids": inputs["input_ids"].long()})
    L = ref.inputs["input_ids"].shape[1]
    with torch.no_grad():
        from make_causal_fixtures import Record
        rec = Record()
        ref.forward(Edits(), rec)
    sites = [(i, p) for i in range(len(ref.layers)) for p in range(L)]
    x = ref.attributed()["input_ids"]

    def patch(i, p):
        with torch.no_grad():
            return ref.forward(Edits(out={i: (p, rec.out[i][p])}))[-1, 0]

    def ig_step(alpha):
        leaf = (alpha * x).requires_grad_(True)
        ref.forward(Edits(inputs={"input_ids": leaf}))[-1, 0].backward()
        return leaf.grad

    return ref, sites, patch, ig_step


def main():
    kind, model, inputs_path, n_sites, steps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(os.cpu_count() or 1)
    inputs, _ = hf.st_read(inputs_path)
    module, sites, patch, ig_step = (transformer if kind == "transformer" else gpt2)(model, inputs)
    patch(*sites[0])  # warm-up
    t0 = time.perf_counter()
    for s in sites[:n_sites]:
        patch(*s)
    per_site = (time.perf_counter() - t0) / min(n_sites, len(sites))
    ig_step(1.0)
    t0 = time.perf_counter()
    for k in range(steps):
        ig_step(k / (steps - 1))
    ig = time.perf_counter() - t0
    print(json.dumps({"torch": torch.__version__, "blas": blas_library(), "threads": torch.get_num_threads(), "sites": len(sites), "timedSites": min(n_sites, len(sites)),
                      "patchPerSiteMs": per_site * 1e3, "patchMs": per_site * len(sites) * 1e3, "igMs": ig * 1e3}))


if __name__ == "__main__":
    main()
