#!/usr/bin/env python3
"""Train the attention-explorer demo model: character-level date normalisation.

    /usr/bin/python3 tools/train_demo.py            # rewrites demo/models/dates.safetensors + dates.json

Task: a date written by a human in one of many formats -> its ISO form, e.g.
    "3rd of March 1998", "March 3, 1998", "3 Mar 98", "03/03/1998", "Tuesday, 3 March 1998",
    "1998-3-3"  ->  "1998-03-03"
Dates lie in 1950-01-01 .. 2049-12-31. Numeric dates with slashes/dots/dashes are day-first
(d/m/y) unless the 4-digit year comes first (y-m-d). A two-digit year yy means 19yy when
yy >= 50 and 20yy when yy < 50 (so every two-digit year lands in 1950-2049). Weekday names,
when present, are the real weekday of that date.

Model: tools/export_torch.py Seq2SeqTransformer (kind "seq2seq"), post-norm, relu, batch_first,
sinusoidal positions, embed_scale sqrt(d_model). Tokenisation is one token per character:
    src ids = [src_vocab.index(c) for c in text] + [eos_id]        (no bos on the source)
    tgt     = <bos> y y y y - m m - d d <eos>
pad = 0, bos = 1, eos = 2 in both vocabularies. Greedy decoding exactly as attnscope's generate():
tgt starts as [bos], src_key_padding_mask = memory_key_padding_mask = (src == pad), causal tgt_mask,
argmax of the last position, stop at eos or MAX_TGT tokens.

Reproducible: fixed seeds, fixed step count, torch.set_num_threads(2). Only torch + numpy.
The held-out test dates (and the dates of the JSON examples) never occur in training.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import sys
import time
import warnings

# Passive OpenMP waiting: on a machine shared with other work, spinning threads slow everyone down.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export_torch as ex  # noqa: E402

# The log's no_grad check runs on PyTorch's fast path, which warns about prototype nested tensors.
warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors")

OUT_DIR = os.path.normpath(os.path.join(HERE, "..", "demo", "models"))
MODEL_PATH = os.path.join(OUT_DIR, "dates.safetensors")
JSON_PATH = os.path.join(OUT_DIR, "dates.json")

SEED = 1234
ARCH = dict(d_model=64, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=256,
            dropout=0.0, activation="relu", layer_norm_eps=1e-5, batch_first=True, norm_first=False,
            positional="sinusoidal", max_len=48, pad_id=0, bos_id=1, eos_id=2)
STEPS = 900
BATCH = 64
LR = 2e-3
WARMUP = 100
TEST_SIZE = 2000
POOL = 16  # batches drawn at once, grouped by length
LOG_EVERY = 100
MAX_TGT = 14  # bos + 10 chars + eos = 12; a little slack for wrong outputs

FIRST = dt.date(1950, 1, 1)
LAST = dt.date(2049, 12, 31)
N_DAYS = (LAST - FIRST).days + 1

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAY_ABBR = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
PUNCT = " ,./-'"

SPECIALS = ["<pad>", "<bos>", "<eos>"]


def _vocab_chars() -> list:
    names = "".join(MONTHS + MONTH_ABBR + WEEKDAYS + WEEKDAY_ABBR + ["Sept", "the", "of", "st", "nd", "rd", "th"])
    chars = set(names) | set(names.lower()) | set(names.upper()) | set("0123456789") | set(PUNCT)
    return sorted(chars)


SRC_VOCAB = SPECIALS + _vocab_chars()
TGT_VOCAB = SPECIALS + list("0123456789-")
SRC_INDEX = {c: i for i, c in enumerate(SRC_VOCAB)}
TGT_INDEX = {c: i for i, c in enumerate(TGT_VOCAB)}
PAD, BOS, EOS = 0, 1, 2


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def two_digit_year(yy: int) -> int:
    """The documented rule: 50..99 -> 1950..1999, 00..49 -> 2000..2049."""
    return 1900 + yy if yy >= 50 else 2000 + yy


def ordinal(d: int) -> str:
    suffix = "th" if 10 <= d % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suffix}"


def render(date: dt.date, rng: random.Random) -> str:
    """One random human-written form of `date`."""
    d, m, y = date.day, date.month, date.year
    yy = y % 100
    if rng.random() < 0.3:  # numeric formats
        fmt = rng.randrange(10)
        if fmt == 0:
            return f"{y}-{m:02d}-{d:02d}"
        if fmt == 1:
            return f"{y}-{m}-{d}"
        if fmt == 2:
            return f"{y}/{m:02d}/{d:02d}"
        if fmt == 3:
            return f"{d:02d}/{m:02d}/{y}"
        if fmt == 4:
            return f"{d}/{m}/{y}"
        if fmt == 5:
            return f"{d}/{m}/{yy:02d}"
        if fmt == 6:
            return f"{d:02d}/{m:02d}/{yy:02d}"
        if fmt == 7:
            return f"{d:02d}.{m:02d}.{y}"
        if fmt == 8:
            return f"{d}.{m}.{yy:02d}"
        return f"{d:02d}-{m:02d}-{y}"

    # textual month
    r = rng.random()
    if r < 0.5:
        month = MONTHS[m - 1]
    elif r < 0.85:
        month = MONTH_ABBR[m - 1]
    elif r < 0.95:
        month = MONTH_ABBR[m - 1] + "."
    else:
        month = "Sept" if m == 9 else MONTH_ABBR[m - 1]
    r = rng.random()
    year = str(y) if r < 0.65 else (f"{yy:02d}" if r < 0.85 else f"'{yy:02d}")
    r = rng.random()
    day = str(d) if r < 0.5 else (ordinal(d) if r < 0.85 else f"{d:02d}")
    style = rng.randrange(7)
    if style == 0:
        text = f"{day} {month} {year}"
    elif style == 1:
        text = f"{day} {month}, {year}"
    elif style == 2:
        text = f"{ordinal(d)} of {month} {year}" if rng.random() < 0.6 else f"the {ordinal(d)} of {month}, {year}"
    elif style == 3:
        text = f"{month} {day}, {year}"
    elif style == 4:
        text = f"{month} {day} {year}"
    elif style == 5:
        text = f"{day}-{month.rstrip('.')}-{year.lstrip(chr(39))}"
    else:
        text = f"{month} {ordinal(d)}, {year}" if rng.random() < 0.5 else f"{day} {month} {year}"
    if rng.random() < 0.2:  # weekday prefix (the true weekday)
        wd = date.weekday()
        r = rng.random()
        if r < 0.5:
            text = f"{WEEKDAYS[wd]}, {text}"
        elif r < 0.8:
            text = f"{WEEKDAYS[wd]} {text}"
        else:
            text = f"{WEEKDAY_ABBR[wd]} {text}"
    r = rng.random()
    if r < 0.15:
        text = text.lower()
    elif r < 0.22:
        text = text.upper()
    return text


def iso(date: dt.date) -> str:
    return date.isoformat()


def encode_src(text: str) -> list:
    bad = [c for c in text if c not in SRC_INDEX]
    if bad:
        raise ValueError(f"{text!r}: characters not in the source vocabulary: {bad}")
    ids = [SRC_INDEX[c] for c in text] + [EOS]
    if len(ids) > ARCH["max_len"]:
        raise ValueError(f"{text!r}: {len(ids)} tokens exceed max_len {ARCH['max_len']}")
    return ids


def encode_tgt(text: str) -> list:
    return [BOS] + [TGT_INDEX[c] for c in text] + [EOS]


def pad_batch(seqs: list) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    return torch.tensor([s + [PAD] * (n - len(s)) for s in seqs], dtype=torch.long)


def day(i: int) -> dt.date:
    return FIRST + dt.timedelta(days=i)


# Hand-picked examples for the demo (diverse formats; their dates are excluded from training).
EXAMPLES = [
    ("3rd of March 1998", dt.date(1998, 3, 3)),
    ("July 20, 1969", dt.date(1969, 7, 20)),
    ("25 Dec 12", dt.date(2012, 12, 25)),
    ("29/02/2000", dt.date(2000, 2, 29)),
    ("Friday, 13 October 2017", dt.date(2017, 10, 13)),
    ("2049-12-31", dt.date(2049, 12, 31)),
    ("7.11.04", dt.date(2004, 11, 7)),
    ("the 1st of january, 1950", dt.date(1950, 1, 1)),
    ("Aug. 15th, '47", dt.date(2047, 8, 15)),
    ("SAT 4-JUL-1981", dt.date(1981, 7, 4)),
]


# --------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------

def build_model() -> ex.Seq2SeqTransformer:
    model = ex.Seq2SeqTransformer(SRC_VOCAB, TGT_VOCAB, **ARCH)
    # Token embeddings ~ N(0, 1/d_model): after the sqrt(d_model) scale they have unit variance, the
    # size of the sinusoidal positions (nn.Embedding's N(0, 1) times 8 would drown the positions).
    for emb in (model.src_embed, model.tgt_embed):
        torch.nn.init.normal_(emb.weight, std=ARCH["d_model"] ** -0.5)
    return model


def greedy(model: ex.Seq2SeqTransformer, src: torch.Tensor) -> list:
    """Greedy decoding exactly as attnscope's generate(): re-runs the whole model for every token.

    src: [B, S] ids (pad = 0). Returns the decoded target strings (up to the first eos)."""
    b = src.shape[0]
    tgt = torch.full((b, 1), BOS, dtype=torch.long)
    done = torch.zeros(b, dtype=torch.bool)
    kpm = src == PAD
    for _ in range(MAX_TGT - 1):
        t = tgt.shape[1]
        logits = model(src, tgt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(t),
                       src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
        nxt = logits[:, -1].argmax(-1)
        tgt = torch.cat([tgt, nxt[:, None]], 1)
        done |= nxt == EOS
        if bool(done.all()):
            break
    out = []
    for row in tgt[:, 1:].tolist():
        s = []
        for i in row:
            if i == EOS:
                break
            s.append(TGT_VOCAB[i])
        out.append("".join(s))
    return out


def decode_all(model, texts: list, batch: int = 500) -> list:
    """Greedy outputs for `texts` on PyTorch's regular (non fast-path) code, model in eval mode."""
    model.eval()
    out = []
    with ex.regular_path(model):
        for i in range(0, len(texts), batch):
            out += greedy(model, pad_batch([encode_src(t) for t in texts[i:i + batch]]))
    return out


def lr_at(step: int) -> float:
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    p = (step - WARMUP) / max(1, STEPS - WARMUP)
    return LR * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))


def main() -> int:
    torch.set_num_threads(2)
    random.seed(SEED)
    torch.manual_seed(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)

    # Held-out dates: a fixed random sample of days (plus the example dates), never trained on.
    split_rng = random.Random(SEED + 1)
    test_days = split_rng.sample(range(N_DAYS), TEST_SIZE)
    held_out = set(test_days) | {(d - FIRST).days for _, d in EXAMPLES}
    train_days = [i for i in range(N_DAYS) if i not in held_out]
    test_rng = random.Random(SEED + 2)
    test = [(render(day(i), test_rng), iso(day(i))) for i in test_days]
    for text, date in EXAMPLES:
        encode_src(text)  # raises on characters outside the vocabulary / too long
        assert FIRST <= date <= LAST, text
    longest = max(len(encode_src(t)) for t, _ in test)

    train_rng = random.Random(SEED + 3)
    model = build_model()
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.98), weight_decay=0.01)
    print(f"src vocab {len(SRC_VOCAB)}, tgt vocab {len(TGT_VOCAB)}, {n_params} parameters, "
          f"{len(train_days)} training dates, {len(test)} test examples (longest source {longest} tokens)")

    # A small teacher-forced check set (training dates excluded from nothing: only for the log).
    val_rng = random.Random(SEED + 4)
    val_dates = [day(val_rng.choice(train_days)) for _ in range(256)]
    val_src = pad_batch([encode_src(render(d, val_rng)) for d in val_dates])
    val_tgt = pad_batch([encode_tgt(iso(d)) for d in val_dates])

    t0 = time.time()
    model.train()
    ema = None
    batches: list = []
    for step in range(STEPS):
        if not batches:
            # Draw POOL batches at once and group them by source length: far less padding.
            pool = []
            for _ in range(BATCH * POOL):
                d = day(train_rng.choice(train_days))
                pool.append((encode_src(render(d, train_rng)), encode_tgt(iso(d))))
            pool.sort(key=lambda p: len(p[0]))
            batches = [pool[i:i + BATCH] for i in range(0, len(pool), BATCH)]
            train_rng.shuffle(batches)
        chunk = batches.pop()
        src = pad_batch([a for a, _ in chunk])
        tgt = pad_batch([b for _, b in chunk])
        t_in, t_out = tgt[:, :-1], tgt[:, 1:]
        kpm = src == PAD
        logits = model(src, t_in, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(t_in.shape[1]),
                       src_key_padding_mask=kpm, memory_key_padding_mask=kpm)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t_out.reshape(-1), ignore_index=PAD)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if (step + 1) % LOG_EVERY == 0 or step + 1 == STEPS:
            model.eval()
            with torch.no_grad():
                vi, vo = val_tgt[:, :-1], val_tgt[:, 1:]
                vk = val_src == PAD
                pred = model(val_src, vi, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(vi.shape[1]),
                             src_key_padding_mask=vk, memory_key_padding_mask=vk).argmax(-1)
                seq_ok = ((pred == vo) | (vo == PAD)).all(1).float().mean().item()
            model.train()
            print(f"step {step + 1}/{STEPS}  loss {ema:.4f}  lr {lr_at(step):.2e}  teacher-forced seq acc "
                  f"{seq_ok:.3f}  {time.time() - t0:.0f}s", flush=True)
    train_s = time.time() - t0

    model.eval()
    cfg = ex.save(model, MODEL_PATH, task="date-normalisation", src_eos=True)

    # Reload the file into a fresh module: everything below is measured on what was exported.
    cfg2, tensors = ex.load_model_file(MODEL_PATH)
    assert cfg2 == cfg
    fresh = build_model().eval()
    fresh.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, strict=True)

    t1 = time.time()
    got = decode_all(fresh, [t for t, _ in test])
    eval_s = time.time() - t1
    correct = sum(g == w for g, (_, w) in zip(got, test))
    acc = correct / len(test)
    errors = [{"input": t, "expected": w, "output": g} for g, (t, w) in zip(got, test) if g != w]
    ex_out = decode_all(fresh, [t for t, _ in EXAMPLES])
    size = os.path.getsize(MODEL_PATH)
    print(f"test exact match {correct}/{len(test)} = {acc:.4f}  (train {train_s:.0f}s, eval {eval_s:.1f}s), "
          f"{MODEL_PATH}: {size} bytes")
    for e in errors[:10]:
        print(f"  wrong: {e['input']!r} -> {e['output']!r}, expected {e['expected']!r}")
    for (t, d), g in zip(EXAMPLES, ex_out):
        print(f"  {t!r:32} -> {g!r} {'ok' if g == iso(d) else 'WRONG, expected ' + iso(d)}")

    arch = {k: v for k, v in ARCH.items()}
    arch.update(embed_scale=model.embed_scale, parameters=n_params)
    info = {
        "task": "Date normalisation: a date written in one of many human formats -> ISO 8601 (YYYY-MM-DD).",
        "model_file": "dates.safetensors",
        "model_bytes": size,
        "date_range": "1950-01-01 .. 2049-12-31",
        "date_rules": [
            "Numeric dates are day-first (d/m/y, d.m.y, d-m-y) unless the four-digit year comes first (y-m-d, y/m/d).",
            "A two-digit year yy means 19yy when yy >= 50 and 20yy when yy < 50 (e.g. '49 -> 2049, 50 -> 1950).",
            "A weekday prefix, when present, is the true weekday of the date (the model learns to ignore it).",
        ],
        "tokenisation": {
            "src": "one token per character: src_vocab.index(c) for each character, then <eos> (2); "
                   "no <bos> on the source; right-padded with <pad> (0) in a batch",
            "tgt": "starts with <bos> (1); greedy argmax until <eos> (2); the answer is the 10 characters before <eos>",
            "masks": "src_key_padding_mask = memory_key_padding_mask = (src == 0); causal tgt_mask",
            "unknown_characters": "characters outside src_vocab were never seen: reject them (or drop them)",
            "max_src_tokens": ARCH["max_len"],
            "max_tgt_tokens": MAX_TGT,
            "longest_test_source_tokens": longest,
        },
        "src_vocab": SRC_VOCAB,
        "tgt_vocab": TGT_VOCAB,
        "architecture": arch,
        "training": {
            "steps": STEPS, "batch_size": BATCH, "optimizer": "AdamW(betas=(0.9, 0.98), weight_decay=0.01)",
            "lr": f"{LR} peak, linear warmup {WARMUP} steps, cosine decay to 2%", "grad_clip": 1.0,
            "seed": SEED, "torch_threads": 2, "torch_version": torch.__version__,
            "seconds": round(train_s, 1),
            "data": "fresh random (date, format) pairs every step; training dates exclude every test and example date",
        },
        "test": {
            "size": len(test), "exact_match": round(acc, 4), "correct": correct,
            "decoding": "greedy, re-running the exported model (regular PyTorch path, eval mode) per token",
            "held_out": "the test dates are distinct random days never used in training; formats drawn like training",
            "errors": errors[:20],
        },
        "examples": [{"input": t, "expected": iso(d), "model_output": g} for (t, d), g in zip(EXAMPLES, ex_out)],
    }
    with open(JSON_PATH + ".tmp", "w") as f:
        json.dump(info, f, indent=2, ensure_ascii=True)
        f.write("\n")
    os.replace(JSON_PATH + ".tmp", JSON_PATH)
    print(f"wrote {JSON_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
