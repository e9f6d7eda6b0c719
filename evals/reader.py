"""Train the reader: the packaged MiniLM fine-tuned as a (question, sentence) cross-encoder.

    python -m evals.reader --features DIR                # train, export bot/models/reader*.onnx
    python -m evals.reader --features DIR --folds        # also the two half-data readers whose
                                                         # out-of-fold scores evals.fit stacks on
    python -m evals.reader --features DIR --folds --no-final --loss pointwise --epochs 1 \
        --oof evals/train/reader-oof-pointwise.json      # another recipe's out-of-fold scores
    python -m evals.reader --features DIR --compare A.json B.json --out F.json
                                                         # the stacked scorer on each, compared

The feature rows' answerer ranks each training question's candidates (``evals.fit``'s cache, with
each candidate's text); the reader learns from the few it ranks first, which is where it is used
(``bot.reader.SHORTLIST``): every candidate that holds the answer and the best-ranked ones that
don't, so near-content unanswerables and near misses teach it what "about the question but not
the answer" reads like. The encoder is the embedding model's own folder (nothing downloaded):
its embeddings and lowest ``FROZEN`` layers stay as they are, the rest and a mean-pooled linear
head are trained for ``--epochs`` epoch(s) (default 2) with a ``--loss``: ``listwise`` (the
shipped reader's: per question, softmax cross-entropy over its pairs and a "no answer" logit
fixed at 0) or ``pointwise`` (binary cross-entropy per pair), and the result is exported to
ONNX and quantised to int8 (``bot.reader.export``), checked against the torch model.

Out-of-fold scores: ``--folds`` trains one reader on each half of the source groups
(``evals.crossval.folds`` with k=2) and scores the other half's shortlists with it; the file
``evals/train/reader-oof-listwise.json`` is what the stacked scorer is fitted and
cross-validated on, so no stacked figure reads a reader that saw its question. The shipped
reader is trained on all the groups. Training runs on the CPU (2 cores: about 15-40 pairs a
second), shows progress and keeps a checkpoint after every ``CHECKPOINT_STEPS`` steps and at
the end, from which a killed run resumes; the final one is removed once the reader is
exported, so an export that fails is made again from it without training.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from despatch.settings import PROJECT_ROOT

FROZEN = 3  # embeddings and the lowest layers are not trained: half the encoder to update
EPOCHS = 2
LOSSES = ("pointwise", "listwise")
LOSS = "listwise"
LOSS_TEXT = {
    "pointwise": "binary cross-entropy, positives weighted to balance",
    "listwise": "per question, softmax cross-entropy over its pairs and a no-answer logit fixed at 0",
}
BATCH = 16
LR = 7e-5
HEAD_LR = 1e-3
WARMUP = 0.05
MAX_NEGATIVES = 3  # per question: the best-ranked candidates that don't answer
MAX_POSITIVES = 2
SEED = 0
CHECKPOINT_STEPS = 200
OOF = PROJECT_ROOT / "evals" / "train" / "reader-oof-listwise.json"  # evals.rows.READER_OOF


@dataclass(frozen=True)
class Pair:
    """One (question, sentence) training pair."""

    question: str
    sentence: str
    label: float
    group: str
    key: str  # "<set>:<case id>:<candidate index>", to find its score again


def asked_text(case: Any) -> str:
    """The question as the answerer reads it (a follow-up with the question it leans on)."""
    from bot.followup import resolve

    return resolve(case.question, case.history).search_text


def training_pairs(questions: Sequence[Any], base: Any, k: int) -> list[Pair]:
    """Every positive candidate (at most ``MAX_POSITIVES``) and the best-ranked negatives of each
    question's shortlist."""
    from bot.reader import shortlist

    out = []
    for q in questions:
        if q.gated or not len(q.y) or not q.texts:
            continue
        asked = asked_text(q.case)
        order = shortlist(base.predict(q.x), q.x, len(q.y))
        pos = [i for i in order if q.y[i] > 0][:MAX_POSITIVES]
        neg = [i for i in order[:k] if q.y[i] == 0][:MAX_NEGATIVES]
        for i in pos + neg:
            out.append(Pair(asked, q.texts[i], float(q.y[i]), q.group, f"{q.set}:{q.case.id}:{i}"))
    return out


class Reader:
    """The trainable cross-encoder: the encoder, mean pooling over real tokens, a linear head."""

    def __init__(self, model_path: Path) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        torch.manual_seed(SEED)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
        encoder = AutoModel.from_pretrained(
            str(model_path), local_files_only=True, attn_implementation="eager"
        )
        self.net = pooled(encoder, torch)

    def batch(self, questions: Sequence[str], sentences: Sequence[str]) -> dict[str, Any]:
        from bot.reader import MAX_TOKENS

        return dict(
            self.tokenizer(
                list(questions),
                list(sentences),
                padding=True,
                truncation="only_second",
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
        )

    def logits(self, questions: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        self.net.eval()
        out = np.zeros(len(questions))
        # Batches of like length: little padding.
        order = sorted(range(len(questions)), key=lambda i: len(questions[i]) + len(sentences[i]))
        with self.torch.inference_mode():
            for start in range(0, len(order), 64):
                idx = order[start : start + 64]
                b = self.batch([questions[i] for i in idx], [sentences[i] for i in idx])
                out[idx] = self.net(b["input_ids"], b["attention_mask"], b["token_type_ids"]).numpy()
        return out


def pooled(encoder: Any, torch: Any) -> Any:
    """The encoder with mean pooling and a linear head, as a torch module (made lazily)."""
    from index.embedding import mean_pooled

    class _Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.head = torch.nn.Linear(encoder.config.hidden_size, 1)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            mean = mean_pooled(self.encoder, input_ids, attention_mask, token_type_ids)
            return self.head(mean).squeeze(-1)

    return _Pooled()


def _units(pairs: Sequence[Pair], loss: str) -> list[list[int]]:
    """What a batch is made of: single pairs (pointwise), or each question's pairs together
    (listwise: the question's candidates compete with each other and with "no answer")."""
    if loss == "pointwise":
        return [[i] for i in range(len(pairs))]
    by_question: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_question.setdefault(p.key.rsplit(":", 1)[0], []).append(i)
    return list(by_question.values())


def _loss(
    torch: Any, logits: Any, batch: list[list[int]], pairs: Sequence[Pair], loss: str, pos_weight: Any
) -> Any:
    """Pointwise: binary cross-entropy per pair, positives weighted to balance. Listwise: per
    question, softmax cross-entropy over its candidates and a "no answer" option fixed at logit 0,
    the target spread over the candidates that answer (or all on "no answer" when none does), so
    a logit above 0 means "this answers, and better than the rest"."""
    flat = [i for unit in batch for i in unit]
    y = torch.tensor([pairs[i].label for i in flat])
    if loss == "pointwise":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
    total, start = logits.new_zeros(()), 0
    for unit in batch:
        part = logits[start : start + len(unit)]
        labels = y[start : start + len(unit)]
        start += len(unit)
        scores = torch.cat([logits.new_zeros(1), part])
        target = torch.cat([(labels.sum() == 0).float().reshape(1), labels / labels.sum().clamp(min=1.0)])
        total = total - (target * torch.log_softmax(scores, dim=0)).sum()
    return total / len(batch)


def train(
    pairs: list[Pair], out: Path, epochs: int = EPOCHS, label: str = "reader", loss: str = LOSS
) -> Reader:
    """Fine-tune a reader on ``pairs``; ``out`` keeps a checkpoint (a rerun resumes from it)."""
    import torch

    from index.embedding import default_model_path

    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)}")
    torch.set_num_threads(2)
    reader = Reader(default_model_path())
    net = reader.net
    for p in net.encoder.embeddings.parameters():
        p.requires_grad = False
    for layer in net.encoder.encoder.layer[:FROZEN]:
        for p in layer.parameters():
            p.requires_grad = False
    body = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": LR}, {"params": net.head.parameters(), "lr": HEAD_LR}])
    # Batches of about BATCH pairs, of like length (little padding), in a seeded random order.
    rng = random.Random(SEED)
    units = _units(pairs, loss)
    per_batch = max(1, round(BATCH * len(units) / max(len(pairs), 1)))
    lengths = [sum(len(pairs[i].question) + len(pairs[i].sentence) for i in u) / len(u) for u in units]
    batches: list[list[list[int]]] = []
    for _ in range(epochs):
        idx = list(range(len(units)))
        rng.shuffle(idx)
        for chunk in range(0, len(idx), per_batch * 50):
            block = sorted(idx[chunk : chunk + per_batch * 50], key=lambda i: lengths[i])
            part = [[units[i] for i in block[j : j + per_batch]] for j in range(0, len(block), per_batch)]
            rng.shuffle(part)
            batches += part
    total = len(batches)
    warm = max(1, int(WARMUP * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    checkpoint = checkpoint_path(out, label, loss)
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["total"] == total:
            net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
            sched.load_state_dict(state["sched"])
            step = state["step"]
            print(f"reader: {label}: resumed at step {step}/{total}", file=sys.stderr, flush=True)
    positives = sum(p.label for p in pairs)
    pos_weight = torch.tensor((len(pairs) - positives) / max(positives, 1.0))
    began, seen, running = time.perf_counter(), 0, 0.0
    net.train()
    while step < total:
        batch = batches[step]
        flat = [i for unit in batch for i in unit]
        b = reader.batch([pairs[i].question for i in flat], [pairs[i].sentence for i in flat])
        logits = net(b["input_ids"], b["attention_mask"], b["token_type_ids"])
        value_t = _loss(torch, logits, batch, pairs, loss, pos_weight)
        value_t.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        step += 1
        seen += len(flat)
        value = value_t.item()
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 25 == 0 or step == total:
            rate = seen / (time.perf_counter() - began)
            left = (total - step) * (seen / step) / max(rate, 1e-9)
            print(
                f"reader: {label}: step {step}/{total} loss {running:.3f} {rate:.1f} pairs/s, "
                f"{left / 60:.0f} min left",
                file=sys.stderr,
                flush=True,
            )
        if step % CHECKPOINT_STEPS == 0 or step == total:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save(
                {
                    "net": net.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "step": step,
                    "total": total,
                },
                tmp,
            )
            tmp.replace(checkpoint)
    net.eval()
    return reader


def checkpoint_path(work: Path, label: str, loss: str) -> Path:
    """Where ``train`` keeps a run's state: every ``CHECKPOINT_STEPS`` steps and when it ends,
    so a rerun resumes, and a finished run's weights survive until the caller has used them
    (an export that fails keeps them: a rerun exports again without training)."""
    return work / f"{label}-{loss}.ckpt"


def _digest(pairs: Sequence[Pair]) -> str:
    h = hashlib.sha256()
    for p in pairs:
        h.update(f"{p.key}\t{p.label}\t{p.question}\t{p.sentence}\n".encode())
    return h.hexdigest()


def out_of_fold(
    questions: Sequence[Any], base: Any, work: Path, epochs: int = EPOCHS, loss: str = LOSS
) -> dict[str, Any]:
    """Two readers, each trained on one half of the groups, score the other half's shortlists."""
    from bot.reader import SHORTLIST, shortlist
    from evals.crossval import folds

    fold_of = folds(list(questions), 2)
    scores: dict[str, float] = {}
    for f in (0, 1):
        train_q = [q for q in questions if fold_of[q.group] != f]
        test_q = [q for q in questions if fold_of[q.group] == f and not q.gated and len(q.y) and q.texts]
        pairs = training_pairs(train_q, base, SHORTLIST)
        print(f"reader: fold {f + 1}/2: {len(pairs)} pairs", file=sys.stderr, flush=True)
        reader = train(pairs, work, epochs, label=f"fold{f}", loss=loss)
        qs, ss, keys = [], [], []
        for q in test_q:
            asked = asked_text(q.case)
            for i in shortlist(base.predict(q.x), q.x, SHORTLIST):
                qs.append(asked)
                ss.append(q.texts[i])
                keys.append(f"{q.set}:{q.case.id}:{i}")
        print(f"reader: fold {f + 1}/2: scoring {len(qs)} pairs", file=sys.stderr, flush=True)
        for key, logit in zip(keys, reader.logits(qs, ss), strict=True):
            scores[key] = round(float(logit), 4)
        checkpoint_path(work, f"fold{f}", loss).unlink(missing_ok=True)
    return {
        "shortlist": SHORTLIST,
        "scheme": "2 grouped folds (evals.crossval.folds)",
        "recipe": {"epochs": epochs, "loss": loss},
        "logits": scores,
    }


def main(argv: list[str] | None = None) -> int:
    from bot.assembly import offline
    from bot.contextual import ContextualScorer
    from bot.reader import MODEL, SHORTLIST, export
    from despatch.settings import load_settings
    from evals.rows import load_training, training_files

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", type=Path, required=True, help="evals.fit's feature cache folder")
    parser.add_argument("--work", type=Path, default=Path("/tmp/despatch-reader"), help="checkpoints")
    parser.add_argument("--folds", action="store_true", help="also the out-of-fold scores (two more readers)")
    parser.add_argument("--no-final", action="store_true", help="skip the reader trained on every group")
    parser.add_argument(
        "--epochs", type=int, default=EPOCHS, help=f"passes over the pairs (default {EPOCHS})"
    )
    parser.add_argument(
        "--loss", choices=LOSSES, default=LOSS, help=f"per pair or per question's shortlist (default {LOSS})"
    )
    parser.add_argument(
        "--oof",
        type=Path,
        default=OOF,
        help="where --folds writes the out-of-fold scores (evals.fit reads OOF)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        metavar="OOF",
        help="cross-validate the stacked scorer on each out-of-fold scores file, then stop",
    )
    parser.add_argument("--out", type=Path, help="with --compare: write the figures here (JSON)")
    args = parser.parse_args(argv)
    settings = load_settings()
    offline(settings)
    args.work.mkdir(parents=True, exist_ok=True)
    questions = load_training(settings, args.features)
    if args.compare:
        from evals.recipes import compare

        figures = compare(questions, args.compare)
        if args.out:
            args.out.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        return 0
    base = ContextualScorer.load()  # the shortlist's ranking (the stacked scorer's first stage)
    if args.folds:
        oof = out_of_fold(questions, base, args.work, args.epochs, args.loss)
        args.oof.write_text(json.dumps(oof, indent=0, sort_keys=True) + "\n", encoding="utf-8")
        print(f"reader: wrote {args.oof} ({len(oof['logits'])} scores)", file=sys.stderr)
    if not args.no_final:
        pairs = training_pairs(questions, base, SHORTLIST)
        print(f"reader: all groups: {len(pairs)} pairs", file=sys.stderr, flush=True)
        reader = train(pairs, args.work, args.epochs, label="final", loss=args.loss)
        meta = {
            "trained_on": training_files(),
            "pairs": len(pairs),
            "positives": int(sum(p.label for p in pairs)),
            "pairs_sha256": _digest(pairs),
            "recipe": {
                "encoder": "the packaged all-MiniLM-L6-v2 (index.embedding.default_model_path)",
                "head": "mean pooling over real tokens, then a linear layer",
                "frozen": f"embeddings and layers 0-{FROZEN - 1}",
                "epochs": args.epochs,
                "batch": BATCH,
                "lr": LR,
                "head_lr": HEAD_LR,
                "warmup": WARMUP,
                "seed": SEED,
                "loss": LOSS_TEXT[args.loss],
            },
        }
        check = [(p.question, p.sentence) for p in random.Random(SEED).sample(pairs, min(61, len(pairs)))]
        paths = export(reader, MODEL, meta, check)
        for p in paths:
            print(f"reader: wrote {p}", file=sys.stderr)
        checkpoint_path(args.work, "final", args.loss).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
