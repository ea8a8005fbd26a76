#!/usr/bin/env python3
"""Gradient fixtures: what PyTorch autograd computes for a backward through every parity fixture.

    /usr/bin/python3 tools/make_grad_fixtures.py     # writes test/fixtures/<name>.grad.safetensors

For each fixture of test/fixtures/index.json the module is rebuilt from its seed (tools/make_fixtures.py) and
must reproduce the stored output bit for bit. Then, on PyTorch's regular path with the float inputs requiring
grad, `output.backward(seed)` runs for a seeded random `seed` (the target's gradient, stored as `seed`), with
full backward hooks (register_full_backward_hook) on every MultiheadAttention, encoder/decoder layer and stack,
on layers.0's linear1 and norm1 of the first stack, and on the token models' embeddings and output projection.
Stored:
  seed                    d(target)/d(output), the output's shape
  <input>.grad            src / tgt / memory when they are float inputs
  <path>.grad_input.<i>   grad_input[i] of the hook on <path> (absent where PyTorch gives None)
  <path>.grad_output.<i>  grad_output[i]
  param.<name>            d(target)/d(parameter) for every parameter autograd reached (state_dict names)
  <path>.weights_grad     MultiheadAttention: d(target)/d(attention probabilities) [B, H, L, S]
  relevance.<map>         Chefer et al. 2021 relevance maps (source [B,S,S], target [B,T,T], cross [B,T,S]),
                          computed here in torch from the probabilities and their gradients
  relevance_last.<map>    the same for the target "output element 0 at the last position of batch 0"
The probability gradients come from the softmax inside F.multi_head_attention_forward: its output is the
tensor the values are weighted with, so its .grad (retain_grad) is exactly that gradient.
"""
import contextlib
import json
import os
import sys
from collections import OrderedDict

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as ex  # noqa: E402
import make_fixtures as mf  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")


def hooked_paths(module: nn.Module):
    paths = []
    first_layer = None
    for p, m in module.named_modules():
        if isinstance(m, (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer,
                          nn.TransformerEncoder, nn.TransformerDecoder, nn.Embedding)):
            paths.append(p)
        if first_layer is None and isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            first_layer = p
    paths += [f"{first_layer}.linear1", f"{first_layer}.norm1"]
    for p in ("generator", "head"):
        if hasattr(module, p):
            paths.append(p)
    return [p for p, _ in module.named_modules() if p in set(paths)]


def relevance(attn):
    """Chefer, Gur & Wolf 2021 ("Generic Attention-model Explainability"): attn is a list of (role, A, dA) with
    A, dA [B, H, L, S] in forward order; role 'encoder' | 'decoder' | 'cross'."""
    def bar(a, da):  # mean over heads of the positive part of grad x attention: [B, L, S]
        return (da * a).clamp(min=0).mean(dim=1).double()

    def norm(r):  # (R - I) rows scaled to sum 1, plus I
        eye = torch.eye(r.shape[-1], dtype=r.dtype)
        s = r - eye
        tot = s.sum(dim=-1, keepdim=True)
        return torch.where(tot != 0, s / torch.where(tot != 0, tot, torch.ones_like(tot)), torch.zeros_like(s)) + eye

    B = attn[0][1].shape[0]
    enc = [x for x in attn if x[0] == "encoder"]
    dec = [x for x in attn if x[0] != "encoder"]
    out = {}
    S = enc[0][1].shape[3] if enc else next(x[1].shape[3] for x in dec if x[0] == "cross")
    rss = torch.eye(S, dtype=torch.float64).repeat(B, 1, 1)
    for _, a, da in enc:
        rss = rss + bar(a, da) @ rss
    if enc:
        out["source"] = rss
    if dec:
        T = dec[0][1].shape[2]
        rtt = torch.eye(T, dtype=torch.float64).repeat(B, 1, 1)
        rts = torch.zeros(B, T, S, dtype=torch.float64)
        for role, a, da in dec:
            w = bar(a, da)
            if role == "decoder":
                rtt = rtt + w @ rtt
                rts = rts + w @ rts
            else:
                rts = rts + norm(rtt).transpose(1, 2) @ w @ norm(rss)
        out["target"] = rtt
        out["cross"] = rts
    return {k: v.float() for k, v in out.items()}


def role(module, path):
    parent = module.get_submodule(path.rsplit(".", 1)[0]) if "." in path else module
    if isinstance(parent, nn.TransformerEncoderLayer):
        return "encoder"
    return "decoder" if path.endswith("self_attn") else "cross"


@contextlib.contextmanager
def attention_softmaxes(module: nn.Module):
    """Yields a list that receives ((path, num_heads), probabilities) for the softmax of each MultiheadAttention
    call, in call order, with retain_grad() on: after a backward, .grad is the probabilities' gradient."""
    probs = []
    current = []
    patched = []
    for path, m in module.named_modules():
        if isinstance(m, nn.MultiheadAttention):
            def wrapped(*args, _orig=m.forward, _path=path, _m=m, **kwargs):
                current.append((_path, _m.num_heads))
                try:
                    return _orig(*args, **kwargs)
                finally:
                    current.pop()
            m.forward = wrapped
            patched.append(m)
    orig_softmax = F.softmax

    def softmax(x, *a, **kw):
        y = orig_softmax(x, *a, **kw)
        if current:
            y.retain_grad()
            probs.append((current[-1], y))
        return y

    F.softmax = softmax
    try:
        yield probs
    finally:
        F.softmax = orig_softmax
        for m in patched:
            del m.forward


def grad_fixture(entry):
    cfg = mf.config_by_name(entry["name"])
    fx = mf.build_fixture(cfg)
    module, kind = fx.module, cfg["kind"]
    inputs = OrderedDict((n, t.clone()) for n, t in fx.inputs.items())
    float_inputs = [n for n in ("src", "tgt", "memory") if n in inputs and inputs[n].is_floating_point()]
    for n in float_inputs:
        inputs[n].requires_grad_(True)

    got = OrderedDict()
    handles = []
    for path in hooked_paths(module):
        def hook(mod, gin, gout, _path=path):
            for k, g in enumerate(gin):
                if g is not None:
                    got[f"{_path}.grad_input.{k}"] = g.detach().clone()
            for k, g in enumerate(gout):
                if g is not None:
                    got[f"{_path}.grad_output.{k}"] = g.detach().clone()
        handles.append(module.get_submodule(path).register_full_backward_hook(hook))

    with attention_softmaxes(module) as probs, ex.regular_path(module):
        out = mf.forward(module, kind, inputs)
        if not torch.equal(out.detach(), fx.expected["output"]):
            raise RuntimeError(f"{entry['name']}: rebuilt module does not reproduce the stored output")
        g = torch.Generator().manual_seed(fx.seed + 99)
        seed = torch.randn(out.shape, generator=g)
        module.zero_grad(set_to_none=True)
        out.backward(seed, retain_graph=True)
        param_grads = OrderedDict((n, p.grad.detach().clone()) for n, p in module.named_parameters() if p.grad is not None)
        input_grads = OrderedDict((n, inputs[n].grad.detach().clone()) for n in float_inputs)
        # Full backward hooks stay attached to this forward's graph: they fire again in the second backward.
        hook_grads = OrderedDict(got)
        for h in handles:
            h.remove()
        first = [(path, y.grad.clone()) for path, y in probs]
        # A second target: output element 0 at the last position of batch 0 (the CLI's '-1,0,0' seq-first).
        for _, y in probs:
            y.grad = None
        last = torch.zeros(out.shape)
        last_index = (0, -1, 0) if cfg["bf"] else (-1, 0, 0)
        last[last_index] = 1
        out.backward(last)
        second = [(path, y.grad.clone()) for path, y in probs]

    tensors = OrderedDict(seed=seed)
    for n, g in input_grads.items():
        tensors[f"{n}.grad"] = g
    seen = set()
    attn, attn_last = [], []
    for ((path, H), y), (_, g1), (_, g2) in zip(probs, first, second):
        if path in seen:
            raise RuntimeError(f"{path}: attention ran twice")
        seen.add(path)
        BH, L, S = y.shape
        shape = (BH // H, H, L, S)
        tensors[f"{path}.weights_grad"] = g1.reshape(shape)
        attn.append((role(module, path), y.detach().reshape(shape), g1.reshape(shape)))
        attn_last.append((role(module, path), y.detach().reshape(shape), g2.reshape(shape)))
    for k, v in relevance(attn).items():
        tensors[f"relevance.{k}"] = v
    for k, v in relevance(attn_last).items():
        tensors[f"relevance_last.{k}"] = v
    tensors.update(hook_grads)
    for n, g in param_grads.items():
        tensors[f"param.{n}"] = g
    for n, t in tensors.items():
        if not torch.isfinite(t).all():
            raise RuntimeError(f"{entry['name']}: {n} has non-finite values")
    return tensors


def main():
    torch.set_num_threads(1)
    index = json.load(open(os.path.join(OUT, "index.json")))
    for entry in index:
        tensors = grad_fixture(entry)
        path = os.path.join(OUT, f"{entry['name']}.grad.safetensors")
        ex.save_tensors(path, OrderedDict((n, t.numpy()) for n, t in tensors.items()))
        print(f"{entry['name']}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
