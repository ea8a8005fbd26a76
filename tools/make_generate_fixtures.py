"""Greedy decoding references for Model.generate: PyTorch re-runs the whole model for every new token.

Reads the seq2seq-sinusoidal and lm-learned-causal fixture models and writes test/fixtures/generate.io.safetensors:
  s2s_src [B, S] (I64; row 1 ends in pad tokens), s2s_tokens [B, N] (I64): greedy target tokens after bos,
    with src_key_padding_mask = memory_key_padding_mask = (src == pad_id) and a causal tgt_mask
  lm_prompt [L, B] (I64), lm_tokens [N, B] (I64): greedy continuation of the prompt
No eos stop: every row runs N steps. Run: /usr/bin/python3 tools/make_generate_fixtures.py
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_torch as ex  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures")
N = 6


def load(name, cls, **names):
    cfg, tensors = ex.load_model_file(os.path.join(FIX, f"{name}.model.safetensors"))
    common = dict(d_model=cfg["d_model"], nhead=cfg["nhead"], dim_feedforward=cfg["dim_feedforward"], activation=cfg["activation"],
                  layer_norm_eps=cfg["layer_norm_eps"], batch_first=cfg["batch_first"], norm_first=cfg["norm_first"],
                  positional=cfg["positional"], max_len=cfg["max_len"], embed_scale=cfg["embed_scale"], bias=cfg["bias"])
    m = cls(**{k: cfg[v] for k, v in names.items()}, **common).eval()
    m.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    return cfg, m


def main():
    torch.set_num_threads(1)
    torch.manual_seed(5)
    cfg, s2s = load("seq2seq-sinusoidal", ex.Seq2SeqTransformer, src_vocab="src_vocab", tgt_vocab="tgt_vocab",
                    num_encoder_layers="num_encoder_layers", num_decoder_layers="num_decoder_layers")
    pad, bos = cfg["pad_id"], cfg["bos_id"]
    src = torch.randint(3, len(cfg["src_vocab"]), (2, 7))
    src[1, -2:] = pad
    tgt = torch.full((2, 1), bos)
    with ex.regular_path(s2s):
        for _ in range(N):
            T = tgt.shape[1]
            logits = s2s(src, tgt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(T),
                         src_key_padding_mask=src == pad, memory_key_padding_mask=src == pad)
            tgt = torch.cat([tgt, logits[:, -1].argmax(-1, keepdim=True)], 1)
    cfg_lm, lm = load("lm-learned-causal", ex.EncoderLM, vocab="vocab", num_layers="num_encoder_layers")
    lm.causal = cfg_lm["causal"]
    prompt = torch.randint(3, len(cfg_lm["vocab"]), (5, 2))
    ids = prompt
    with ex.regular_path(lm):
        for _ in range(N):
            ids = torch.cat([ids, lm(ids)[-1].argmax(-1, keepdim=True).T], 0)
    ex.save_tensors(os.path.join(FIX, "generate.io.safetensors"),
                    {"s2s_src": src, "s2s_tokens": tgt[:, 1:], "lm_prompt": prompt, "lm_tokens": ids[prompt.shape[0]:]})
    print("wrote generate fixtures", tgt[:, 1:].tolist(), ids[prompt.shape[0]:].T.tolist())


if __name__ == "__main__":
    main()
