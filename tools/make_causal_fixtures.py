#!/usr/bin/env python3
"""Causal-analysis fixtures: what PyTorch computes, one forward per site / step, for what attnscope batches.

    /usr/bin/python3 tools/make_causal_fixtures.py     # writes test/fixtures/causal/<case>.safetensors

Cases (batch-1 inputs taken from existing fixtures; parity fixtures rebuilt from their seeds by tools/make_fixtures.py):
  lm          parity fixture lm-learned-causal (EncoderLM, [L, B] ids)
  seq2seq     parity fixture post-relu-seqfirst (nn.Transformer, float src / tgt, [L, B, E], causal tgt_mask)
  encoder     parity fixture encoder-pre-gelu-nonorm (TransformerEncoder, pre-norm, float src_mask)
  batchfirst  parity fixture pre-gelu-batchfirst (nn.Transformer [B, L, E], bool src_mask, src padding mask)
  tokens      parity fixture seq2seq-sinusoidal (token seq2seq: src and tgt ids, each attributed at its embedding)
  gpt2        test/fixtures/hf/gpt2_lm through tools/hf_reference.py's gpt2_forward
  bert        test/fixtures/hf/bert_mlm through tools/hf_reference.py's bert_forward
  llama       test/fixtures/hf/llama_lm through tools/hf_reference.py's llama_forward (IG from token 0's embeddings)
Patching and head importance act on the decoder stack of the two-stack kinds (the encoder's for lm / encoder).

Each file holds the inputs (`input.<name>`, the corrupted ones `corrupted.<name>`) and, per analysis:
  patch.position      [layers, L]  the metric with layer i's output at position p replaced by the corrupted run's
  patch.head          [attn, H]    the metric with head h's output (before the output projection, every position)
                                   replaced by the corrupted run's
  patch.clean / patch.corrupted    the metric unpatched
  heads.zero / heads.mean [attn, H] prob metric change with head h zeroed / set to its mean over positions
  heads.base          the prob metric unablated
  lens.logits         [layers + 1, L, V] final norm + unembedding of the first layer's input and each layer's output
  attr.<grad|ixg|ig>.<input>  [L, E] attributions of the target logit; attr.ig.expected = F(x) - F(baseline)
  baseline.<input>    the IG baseline where it is not zero
  gen.prompt, gen.tokens, gen.ixg  (gpt2, llama) greedy tokens after the prompt and each one's input x gradient per
                      earlier token [G, P + G - 1], as Inseq shows a generation
Metadata `spec` (JSON): the module globs, metric tokens and position, target, steps. Every run is a separate forward
(autograd for gradients, one per integration step), as a notebook would do it. Metric: logit difference of two
tokens (patching), probability of one token (head importance), both at `position`.
"""
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as ex  # noqa: E402
import hf_reference as hf  # noqa: E402
import make_fixtures as mf  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
OUT = os.path.join(ROOT, "causal")
IG_STEPS = 8


class Edits:
    """What one forward changes: layer outputs at a position, one head of an attention module, the attributed
    inputs (token embeddings or float sequences, [L, E] each, by input name)."""

    def __init__(self, out=None, heads=None, inputs=None):
        self.out = out or {}  # layer i -> (position, vector [E])
        self.heads = heads or {}  # attention i -> (head, [L, D])
        self.inputs = inputs or {}


class Record:
    def __init__(self):
        self.out, self.heads, self.resid0 = {}, {}, None


def set_head(x, h, D, mat):
    """x [L, E] (rows of the batch-1 run): head h's columns replaced by mat [L, D]."""
    x = x.clone()
    x[:, h * D:(h + 1) * D] = mat
    return x


class LinearTap:
    """F.linear (which F.multi_head_attention_forward calls for out_proj) seen per out_proj weight: records the merged
    heads it is given and applies head edits. Also used for nothing else: other weights pass through."""

    def __init__(self, weights, D):
        self.weights, self.D = weights, D
        self.orig = F.linear
        self.rec, self.edits = None, None

    def __enter__(self):
        def linear(x, w, b=None):
            for i, ww in enumerate(self.weights):
                if w is ww:
                    if self.rec is not None:
                        self.rec.heads[i] = x.detach().clone()
                    if i in self.edits.heads:
                        h, mat = self.edits.heads[i]
                        x = set_head(x, h, self.D, mat)
            return self.orig(x, w, b)
        F.linear = linear
        return self

    def __exit__(self, *a):
        F.linear = self.orig


# The stack whose layers are patched and ablated, by fixture kind ('' : the model is the stack).
STACKS = {"lm": "encoder", "transformer": "decoder", "seq2seq": "transformer.decoder", "encoder": ""}


class NnRef:
    """An nn.Transformer-family parity fixture rebuilt from its seed, batch row 0 of its inputs."""

    def __init__(self, name, keep):
        self.cfg = mf.config_by_name(name)
        fx = mf.build_fixture(self.cfg)
        self.module, self.kind, self.bf = fx.module, self.cfg["kind"], self.cfg["bf"]
        self.inputs = OrderedDict()
        for n in keep:
            t = fx.inputs[n]
            if n.endswith("_mask") and t.dim() == 2 and "padding" not in n:
                self.inputs[n] = t
            else:
                self.inputs[n] = t[0:1] if (self.bf or t.dim() == 2 and n.endswith("padding_mask")) else t[:, 0:1]
        m = self.module
        prefix = STACKS[self.kind]
        stack = m.get_submodule(prefix) if prefix else m
        at = f"{prefix}." if prefix else ""
        self.layers = [f"{at}layers.{i}" for i in range(len(stack.layers))]
        self.attn = [f"{p}.self_attn" for p in self.layers]
        self.H = stack.layers[0].self_attn.num_heads
        self.E = stack.layers[0].self_attn.embed_dim
        self.D = self.E // self.H
        self.stack = stack
        # Token inputs: attributed at their embedding module's output (attnscope's TOKEN_EMBEDDINGS)
        self.embeds = {"lm": {"src": "embed"}, "seq2seq": {"src": "src_embed", "tgt": "tgt_embed"}}.get(self.kind, {})
        self.tap = LinearTap([l.self_attn.out_proj.weight for l in stack.layers], self.D)

    def rows(self, t):
        """[1, L, E] / [L, 1, E] -> [L, E]"""
        return t[0] if self.bf else t[:, 0]

    def put(self, t, rows):
        return rows.unsqueeze(0) if self.bf else rows.unsqueeze(1)

    def forward(self, edits, rec=None):
        """Logits [L, V] of the batch-1 run."""
        m = self.module
        handles = []
        for i, layer in enumerate(self.stack.layers):
            def hook(mod, inp, out, _i=i):
                if rec is not None:
                    rec.out[_i] = self.rows(out).detach().clone()
                if _i in edits.out:
                    p, v = edits.out[_i]
                    r = self.rows(out).clone()
                    r[p] = v
                    return self.put(out, r)
            handles.append(layer.register_forward_hook(hook))
        if rec is not None:
            handles.append(self.stack.layers[0].register_forward_pre_hook(lambda mod, inp: setattr(rec, "resid0", self.rows(inp[0]).detach().clone())))
        inputs = OrderedDict(self.inputs)
        for n, x in edits.inputs.items():
            if n in self.embeds:
                handles.append(getattr(m, self.embeds[n]).register_forward_hook(lambda mod, inp, out, _x=x: self.put(out, _x)))
            else:
                inputs[n] = self.put(None, x)
        self.tap.rec, self.tap.edits = rec, edits
        try:
            with ex.regular_path(m), self.tap:
                out = mf.forward(m, self.kind, inputs)
        finally:
            for h in handles:
                h.remove()
        return self.rows(out)

    def lens(self, stream):
        """The final norm (if any) and the head of the lm on a stream [L, E]."""
        norm = self.module.encoder.norm
        return self.module.head(norm(stream) if norm is not None else stream)

    def attributed(self):
        """The attributed inputs' x [L, E]: token embeddings (the embedding module's output, unscaled), float
        src / tgt / memory."""
        if self.embeds:
            return {n: getattr(self.module, e)(self.rows(self.inputs[n])).detach() for n, e in self.embeds.items()}
        return {n: self.rows(self.inputs[n]).detach() for n in ("src", "tgt", "memory") if n in self.inputs}


class HfRef:
    """A Hugging Face reference checkpoint through tools/hf_reference.py, batch row 0 of its io inputs; layer outputs,
    merged heads and token embeddings reached by wrapping hf.layer_norm, hf.merge_heads and F.embedding."""

    def __init__(self, case_dir, family, inputs=None):
        """inputs: the batch-1 inputs; by default row 0 of the directory's io.safetensors."""
        self.family = family
        self.cfg, self.P = hf.load_checkpoint(case_dir)
        if inputs is None:
            io, _ = hf.st_read(os.path.join(case_dir, "io.safetensors"))
            keep = ["input_ids"] + (["token_type_ids"] if family == "bert" else [])
            inputs = OrderedDict((n, io[n][0:1]) for n in keep)
        self.inputs = inputs
        if family == "gpt2":
            n, self.H, self.E = self.cfg["n_layer"], self.cfg["n_head"], self.cfg["n_embd"]
            self.layers = [f"transformer.h.{i}" for i in range(n)]
            self.attn = [f"{p}.attn" for p in self.layers]
            self.wte = "transformer.wte.weight"
        elif family == "llama":
            n, self.H, self.E = self.cfg["num_hidden_layers"], self.cfg["num_attention_heads"], self.cfg["hidden_size"]
            self.layers = [f"model.layers.{i}" for i in range(n)]
            self.attn = [f"{p}.self_attn" for p in self.layers]
            self.wte = "model.embed_tokens.weight"
        else:
            n, self.H, self.E = self.cfg["num_hidden_layers"], self.cfg["num_attention_heads"], self.cfg["hidden_size"]
            self.layers = [f"bert.encoder.layer.{i}" for i in range(n)]
            self.attn = [f"{p}.attention.self" for p in self.layers]
            self.wte = "bert.embeddings.word_embeddings.weight"
        self.D = hf.llama_head_dim(self.cfg) if family == "llama" else self.E // self.H

    def layer_of(self, name):
        """Which layer's output a layer_norm call reads (GPT-2: the next ln_1 / ln_f input) or returns (BERT)."""
        if self.family == "gpt2":
            if name == "transformer.ln_f":
                return len(self.layers) - 1, "in"
            i = int(name.split(".")[2])
            return (i - 1, "in") if name.endswith("ln_1") else (None, None)
        if name.startswith("bert.encoder.layer.") and name.endswith(".output.LayerNorm") and ".attention." not in name:
            return int(name.split(".")[3]), "out"
        return None, None

    def forward(self, edits, rec=None):
        if self.family == "llama":
            return self.forward_llama(edits, rec)
        orig_ln, orig_mh, orig_emb = hf.layer_norm, hf.merge_heads, F.embedding
        calls = [0]

        def layer_norm(x, P, name, eps):
            i, where = self.layer_of(name)
            if where == "in":  # GPT-2: layer i's output is the next ln_1's input (h.0.ln_1's: the embeddings)
                self.edit_stream(x, i, edits, rec)
            y = orig_ln(x, P, name, eps)
            if where == "out":
                if rec is not None:
                    rec.out[i] = y[0].detach().clone()
                if i in edits.out:
                    p, v = edits.out[i]
                    y = y.clone()
                    y[0, p] = v
            return y

        def merge_heads(x):
            calls[0] += 1
            return self.edit_heads(orig_mh(x), calls[0] - 1, edits, rec)

        def embedding(ids, w, *a, **kw):
            if w is self.P[self.wte] and "input_ids" in edits.inputs:
                return edits.inputs["input_ids"].unsqueeze(0)
            return orig_emb(ids, w, *a, **kw)

        hf.layer_norm, hf.merge_heads, F.embedding = layer_norm, merge_heads, embedding
        try:
            if self.family == "gpt2":
                out, _ = hf.gpt2_forward(self.P, self.cfg, self.inputs["input_ids"])
            else:
                out, _, _ = hf.bert_forward(self.P, self.cfg, self.inputs["input_ids"], token_type_ids=self.inputs["token_type_ids"])
        finally:
            hf.layer_norm, hf.merge_heads, F.embedding = orig_ln, orig_mh, orig_emb
        return out[0]

    def edit_stream(self, x, i, edits, rec):
        """x [1, L, E] is layer i's output (i = -1: the first layer's input): recorded, and patched in place (the
        residual stream is this same tensor)."""
        if rec is not None:
            if i < 0:
                rec.resid0 = x[0].detach().clone()
            else:
                rec.out[i] = x[0].detach().clone()
        if i in edits.out:
            p, v = edits.out[i]
            with torch.no_grad():
                x[0, p] = v

    def edit_heads(self, x, i, edits, rec):
        """x [1, L, H·D]: attention module i's merged heads, recorded and edited."""
        if rec is not None:
            rec.heads[i] = x[0].detach().clone()
        if i in edits.heads:
            h, mat = edits.heads[i]
            x = set_head(x[0], h, self.D, mat).unsqueeze(0)
        return x

    def forward_llama(self, edits, rec):
        """Llama / Qwen2: a layer's output is the next input_layernorm's input (the final norm's for the last layer),
        its merged heads o_proj's input; both reached by wrapping hf.rms_norm and F.linear by weight."""
        n = len(self.layers)
        streams = {id(self.P[f"model.layers.{i}.input_layernorm.weight"]): i - 1 for i in range(n)}
        streams[id(self.P["model.norm.weight"])] = n - 1
        o_proj = {id(self.P[f"{a}.o_proj.weight"]): i for i, a in enumerate(self.attn)}
        orig_rms, orig_lin, orig_emb = hf.rms_norm, F.linear, F.embedding

        def rms_norm(x, w, eps):
            if id(w) in streams:
                self.edit_stream(x, streams[id(w)], edits, rec)
            return orig_rms(x, w, eps)

        def linear(x, w, b=None):
            if id(w) in o_proj:
                x = self.edit_heads(x, o_proj[id(w)], edits, rec)
            return orig_lin(x, w, b)

        def embedding(ids, w, *a, **kw):
            if w is self.P[self.wte] and "input_ids" in edits.inputs:
                return edits.inputs["input_ids"].unsqueeze(0)
            return orig_emb(ids, w, *a, **kw)

        hf.rms_norm, F.linear, F.embedding = rms_norm, linear, embedding
        try:
            out, _ = hf.llama_forward(self.P, self.cfg, self.inputs["input_ids"])
        finally:
            hf.rms_norm, F.linear, F.embedding = orig_rms, orig_lin, orig_emb
        return out[0]

    def lens(self, stream):
        if self.family == "llama":
            x = hf.rms_norm(stream.unsqueeze(0), self.P["model.norm.weight"], self.cfg["rms_norm_eps"])
            return F.linear(x, self.P.get("lm_head.weight", self.P[self.wte]))[0]
        x = hf.layer_norm(stream.unsqueeze(0), self.P, "transformer.ln_f", self.cfg["layer_norm_epsilon"])
        return F.linear(x, self.P[self.wte])[0]

    def attributed(self):
        return {"input_ids": F.embedding(self.inputs["input_ids"][0], self.P[self.wte]).detach()}


def logit_diff(logits, spec):
    a, b = spec["logitDiff"]
    return float(logits[spec["position"], a] - logits[spec["position"], b])


def prob(logits, spec):
    return float(torch.softmax(logits[spec["position"]].double(), -1)[spec["prob"]])


def patching(ref, corrupted_inputs, diff):
    """One forward per site: every layer output at every position, every head, patched from the corrupted run."""
    clean_inputs = ref.inputs
    corr = Record()
    ref.inputs = corrupted_inputs
    with torch.no_grad():
        corrupted = diff(ref.forward(Edits(), corr))
    ref.inputs = clean_inputs
    out = OrderedDict()
    with torch.no_grad():
        out["patch.clean"] = torch.tensor([diff(ref.forward(Edits()))])
        out["patch.corrupted"] = torch.tensor([corrupted])
        L = corr.out[0].shape[0]
        pos = torch.zeros(len(ref.layers), L)
        for i in range(len(ref.layers)):
            for p in range(L):
                pos[i, p] = diff(ref.forward(Edits(out={i: (p, corr.out[i][p])})))
        head = torch.zeros(len(ref.attn), ref.H)
        for i in range(len(ref.attn)):
            for h in range(ref.H):
                head[i, h] = diff(ref.forward(Edits(heads={i: (h, corr.heads[i][:, h * ref.D:(h + 1) * ref.D])})))
    out["patch.position"], out["patch.head"] = pos, head
    return out


def head_importance(ref, metric):
    out = OrderedDict()
    with torch.no_grad():
        rec = Record()
        base = metric(ref.forward(Edits(), rec))
        out["heads.base"] = torch.tensor([base])
        for ablation in ("zero", "mean"):
            t = torch.zeros(len(ref.attn), ref.H)
            for i in range(len(ref.attn)):
                L = rec.heads[i].shape[0]
                for h in range(ref.H):
                    cols = rec.heads[i][:, h * ref.D:(h + 1) * ref.D]
                    mat = torch.zeros_like(cols) if ablation == "zero" else cols.mean(0, keepdim=True).expand(L, -1)
                    t[i, h] = metric(ref.forward(Edits(heads={i: (h, mat)}))) - base
            out[f"heads.{ablation}"] = t
    return out


def logit_lens(ref):
    with torch.no_grad():
        rec = Record()
        ref.forward(Edits(), rec)
        streams = [rec.resid0] + [rec.out[i] for i in range(len(ref.layers))]
        return OrderedDict([("lens.logits", torch.stack([ref.lens(s) for s in streams]))])


def attributions(ref, target, baselines=None):
    """grad, input x gradient and integrated gradients (zero baseline unless `baselines` names one per input,
    IG_STEPS points both ends included, Captum's riemann_trapezoid weights; all attributed inputs interpolated
    together) of logits[position, index]."""
    pos, idx = target
    xs = ref.attributed()
    base = {n: (baselines or {}).get(n, torch.zeros_like(x)) for n, x in xs.items()}
    out = OrderedDict((f"baseline.{n}", b) for n, b in (baselines or {}).items())

    def grads(alpha):
        leaves = {n: (base[n] + alpha * (x - base[n])).clone().requires_grad_(True) for n, x in xs.items()}
        y = ref.forward(Edits(inputs=leaves))[pos, idx]
        y.backward()
        return float(y), {n: t.grad.detach().clone() for n, t in leaves.items()}

    _, g = grads(1.0)
    for n, x in xs.items():
        out[f"attr.grad.{n}"] = g[n]
        out[f"attr.ixg.{n}"] = x * g[n]
    n_steps = IG_STEPS
    alphas = [k / (n_steps - 1) for k in range(n_steps)]
    weights = [1 / (n_steps - 1)] * n_steps
    weights[0] = weights[-1] = 0.5 / (n_steps - 1)
    total = {n: torch.zeros_like(x, dtype=torch.float64) for n, x in xs.items()}
    values = []
    for a, w in zip(alphas, weights):
        v, g = grads(a)
        values.append(v)
        for n in xs:
            total[n] += w * g[n].double()
    for n, x in xs.items():
        out[f"attr.ig.{n}"] = ((x - base[n]).double() * total[n]).float()
    out["attr.ig.expected"] = torch.tensor([values[-1] - values[0]])
    return out


def generation(ref, prompt_len, new_tokens):
    """Greedy generation from the first prompt_len tokens, one full forward per token; then each generated token's
    input x gradient at the token embeddings (one forward + backward per token), summed over features: [G, P + G - 1]."""
    ids = ref.inputs["input_ids"][:, :prompt_len].clone()
    saved = ref.inputs
    gen = []
    with torch.no_grad():
        for _ in range(new_tokens):
            ref.inputs = {"input_ids": ids}
            t = int(ref.forward(Edits())[-1].argmax())
            gen.append(t)
            ids = torch.cat([ids, torch.tensor([[t]])], 1)
    ref.inputs = {"input_ids": ids[:, :-1]}
    x = ref.attributed()["input_ids"]
    scores = []
    for g, t in enumerate(gen):
        leaf = x.clone().requires_grad_(True)
        ref.forward(Edits(inputs={"input_ids": leaf}))[prompt_len - 1 + g, t].backward()
        scores.append((x * leaf.grad).sum(-1))
    ref.inputs = saved
    return OrderedDict([("gen.prompt", ids[:, :prompt_len]), ("gen.tokens", torch.tensor(gen)), ("gen.ixg", torch.stack(scores))])


def corrupt(ids, positions, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    c = ids.clone()
    flat = c.view(-1)
    for p in positions:
        while True:
            t = int(torch.randint(vocab, (1,), generator=g))
            if t != int(flat[p]):
                flat[p] = t
                break
    return c


def corrupt_rows(ref, name, positions, seed):
    """A float input (batch 1, the fixture's layout) with the rows at `positions` redrawn from N(0, 1)."""
    g = torch.Generator().manual_seed(seed)
    rows = ref.rows(ref.inputs[name]).clone()
    for p in positions:
        rows[p] = torch.randn(rows.shape[1], generator=g)
    return ref.put(None, rows)


def top2(logits, position):
    return [int(i) for i in torch.topk(logits[position], 2).indices]


def make_case(name, ref, analyses, position, vocab=None, ids_name=None, baselines=None):
    """vocab None: ids_name is a float input, corrupted by redrawing two rows."""
    tensors = OrderedDict((f"input.{n}", t) for n, t in ref.inputs.items())
    spec = {"layers": ref.layers, "attention": ref.attn, "position": position, "steps": IG_STEPS}
    with torch.no_grad():
        clean = ref.forward(Edits())
    a, b = top2(clean, position)
    spec["logitDiff"] = [a, b]
    spec["prob"] = a
    spec["target"] = [position if position >= 0 else clean.shape[0] + position, a]
    if "patch" in analyses:
        corrupted = OrderedDict(ref.inputs)
        if vocab is None:
            L = ref.rows(ref.inputs[ids_name]).shape[0]
            corrupted[ids_name] = corrupt_rows(ref, ids_name, [1, L // 2], 7)
        else:
            L = ref.inputs[ids_name].numel()
            corrupted[ids_name] = corrupt(ref.inputs[ids_name], [1, L // 2], vocab, 7)
        for n, t in corrupted.items():
            tensors[f"corrupted.{n}"] = t
        tensors.update(patching(ref, corrupted, lambda lg: logit_diff(lg, {"logitDiff": [a, b], "position": position})))
    if "heads" in analyses:
        tensors.update(head_importance(ref, lambda lg: prob(lg, {"prob": a, "position": position})))
    if "lens" in analyses:
        tensors.update(logit_lens(ref))
    if "gen" in analyses:
        tensors.update(generation(ref, 4, 3))
    tensors.update(attributions(ref, spec["target"], baselines))
    for n, t in tensors.items():
        if not n.startswith(("input.", "corrupted.")) and t.is_floating_point() and not torch.isfinite(t).all():
            raise RuntimeError(f"{name}: {n} has non-finite values")
    os.makedirs(OUT, exist_ok=True)
    hf.st_write(os.path.join(OUT, f"{name}.safetensors"), tensors, {"spec": json.dumps(spec)})
    print(f"{name}: {len(tensors)} tensors, spec {json.dumps(spec)}")


def main():
    torch.set_num_threads(1)
    lm = NnRef("lm-learned-causal", ["src"])
    make_case("lm", lm, ("patch", "heads", "lens"), -1, vocab=len(lm.module.vocab), ids_name="src")
    make_case("seq2seq", NnRef("post-relu-seqfirst", ["src", "tgt", "tgt_mask"]), ("patch", "heads"), -1, ids_name="tgt")
    make_case("encoder", NnRef("encoder-pre-gelu-nonorm", ["src", "src_mask"]), ("patch", "heads"), 3, ids_name="src")
    make_case("batchfirst", NnRef("pre-gelu-batchfirst", ["src", "tgt", "src_mask", "tgt_mask", "src_key_padding_mask"]),
              ("patch", "heads"), -1, ids_name="tgt")
    tokens = NnRef("seq2seq-sinusoidal", ["src", "tgt", "tgt_mask"])
    make_case("tokens", tokens, ("patch", "heads"), -1, vocab=len(tokens.module.tgt_vocab), ids_name="tgt")
    gpt2 = HfRef(os.path.join(ROOT, "hf", "gpt2_lm"), "gpt2")
    make_case("gpt2", gpt2, ("patch", "heads", "lens", "gen"), -1, vocab=gpt2.cfg["vocab_size"], ids_name="input_ids")
    bert = HfRef(os.path.join(ROOT, "hf", "bert_mlm"), "bert")
    make_case("bert", bert, ("patch", "heads"), 4, vocab=bert.cfg["vocab_size"], ids_name="input_ids")
    llama = HfRef(os.path.join(ROOT, "hf", "llama_lm"), "llama")
    # IG from the embeddings of token 0 at every position: from zeros, RMSNorm's input would be the zero vector, where
    # its gradient is 1 / sqrt(eps) (docs/causal.md)
    pad = F.embedding(torch.zeros_like(llama.inputs["input_ids"][0]), llama.P[llama.wte]).detach()
    make_case("llama", llama, ("patch", "heads", "lens", "gen"), -1, vocab=llama.cfg["vocab_size"], ids_name="input_ids",
              baselines={"input_ids": pad})


if __name__ == "__main__":
    main()
