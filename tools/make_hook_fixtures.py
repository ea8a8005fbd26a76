"""Fixtures for interventions: what PyTorch computes when a hook changes the computation.

Writes test/fixtures/hooks.model.safetensors and test/fixtures/hooks.io.safetensors:
  inputs src, tgt, tgt_mask (causal) and src_key_padding_mask for a post-norm seq-first nn.Transformer, and
  output            no intervention
  prehook_output    forward-pre hook on decoder.layers.0.multihead_attn: query input times 0.5
  ablate_output     head 2 of encoder.layers.1.self_attn zeroed before out_proj
  scale_output      head 1 of decoder.layers.1.self_attn scaled by 2 before out_proj
  writeback_output  forward hook on encoder.layers.0.linear2 returning -output (flows on)
  patch_value       a tensor [S, B, E]; patch_output: encoder.layers.1's output replaced by it
Run: /usr/bin/python3 tools/make_hook_fixtures.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as ex  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
E, H, S, T, B = 24, 4, 9, 6, 2


def with_out_proj_columns(model, mha_path, head, factor, src, tgt, kw):
    mha = model.get_submodule(mha_path)
    d = E // H
    saved = mha.out_proj.weight.detach().clone()
    with torch.no_grad():
        mha.out_proj.weight[:, head * d:(head + 1) * d] *= factor
    try:
        with ex.regular_path(model):
            return model(src, tgt, **kw).detach()
    finally:
        with torch.no_grad():
            mha.out_proj.weight.copy_(saved)


def with_hook(model, path, kind, fn, src, tgt, kw):
    m = model.get_submodule(path)
    h = m.register_forward_pre_hook(fn) if kind == "pre" else m.register_forward_hook(fn)
    try:
        with ex.regular_path(model):
            return model(src, tgt, **kw).detach()
    finally:
        h.remove()


def main():
    torch.manual_seed(11)
    torch.set_num_threads(1)
    model = torch.nn.Transformer(E, H, 2, 2, 40, dropout=0.0).eval()
    src, tgt = torch.randn(S, B, E), torch.randn(T, B, E)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[1, -3:] = True
    kw = dict(tgt_mask=model.generate_square_subsequent_mask(T), src_key_padding_mask=kpm)
    patch = torch.randn(S, B, E)
    with ex.regular_path(model):
        plain = model(src, tgt, **kw).detach()
    out = {
        "src": src, "tgt": tgt, "tgt_mask": kw["tgt_mask"], "src_key_padding_mask": kpm, "output": plain,
        "prehook_output": with_hook(model, "decoder.layers.0.multihead_attn", "pre",
                                    lambda m, inp: (inp[0] * 0.5,) + tuple(inp[1:]), src, tgt, kw),
        "ablate_output": with_out_proj_columns(model, "encoder.layers.1.self_attn", 2, 0.0, src, tgt, kw),
        "scale_output": with_out_proj_columns(model, "decoder.layers.1.self_attn", 1, 2.0, src, tgt, kw),
        "writeback_output": with_hook(model, "encoder.layers.0.linear2", "fwd", lambda m, i, o: -o, src, tgt, kw),
        "patch_value": patch,
        "patch_output": with_hook(model, "encoder.layers.1", "fwd", lambda m, i, o: patch, src, tgt, kw),
    }
    for k in ("prehook_output", "ablate_output", "scale_output", "writeback_output", "patch_output"):
        assert (out[k] - plain).abs().max() > 1e-3, f"{k} did not change the output"
    ex.save(model, os.path.join(OUT, "hooks.model.safetensors"))
    ex.save_tensors(os.path.join(OUT, "hooks.io.safetensors"), out)
    print("wrote hooks fixtures")


if __name__ == "__main__":
    main()
