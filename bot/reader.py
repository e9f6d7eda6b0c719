"""The reader: a cross-encoder that reads the question and a candidate sentence together.

The feature scorers judge a sentence by what it shares with the question (words, entity types,
similarity); they cannot tell "about the question" from "answers it". The reader is the packaged
MiniLM encoder fine-tuned on (question, sentence) pairs from the training sets
(``python -m evals.reader``), exported to ONNX and quantised to int8 (``bot/models/reader.onnx``,
with ``reader.json``: the data's sha256, the command, the file's sha256, checked when it loads).
It reads only the ``SHORTLIST`` candidates the contextual scorer ranks first (scoring a pair costs
milliseconds, the features microseconds), and ``ReaderScorer`` gives LightGBM trees the contextual
rows plus the reader's logit, its gap to the best of the shortlist and its place there
(``reader_rows``): a ``SentenceScorer`` whose trees are fitted by ``python -m evals.fit``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.boosted import BoostedScorer
from bot.manifest import MODELS_DIR
from bot.scorer import Candidates
from despatch.errors import ConfigError
from despatch.files import sha256

SHORTLIST = 5  # candidates the reader reads per question
MAX_TOKENS = 128  # question and sentence together; the sentence is cut first
MODEL = MODELS_DIR / "reader.onnx"
MANIFEST = MODELS_DIR / "reader.json"  # the stacked trees' (python -m evals.fit)
READER_FEATURES = ("reader", "reader_gap", "reader_place")
_AGREEMENT = 0.05  # most a logit of the int8 export may drift from the torch model's (checked)
_CHECK = (
    (
        "What target did the Home Office set for voluntary departures in 2015/16?",
        "The Home Office set a target of 12,800 voluntary departures for 2015/16.",
    ),
    ("Who is the Home Secretary?", "Amber Rudd told MPs she had not seen the targets."),
    ("How many voted?", "Division No. 42: the Ayes to the right, 290; the Noes to the left, 250."),
)


def manifest_path(model: Path) -> Path:
    """The reader model's own manifest (``reader-model.json``; ``reader.json`` is its trees')."""
    return model.with_name(f"{model.stem}-model.json")


def _dynamic(per_channel: bool, reduce_range: bool = False) -> Callable[[Path, Path], None]:
    """Dynamic int8 (onnxruntime ``quantize_dynamic``): int8 weights, and activations quantised
    per tensor as each product runs."""

    def make(raw: Path, made: Path) -> None:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            str(raw),
            str(made),
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
        )

    return make


def _weights_only(raw: Path, made: Path) -> None:
    """int8 weights, float activations: the encoder's products as onnxruntime's ``MatMulNBits``
    (8-bit weights in blocks of 128 along the input, dequantised as they are multiplied), then
    the embedding tables as int8 (``quantize_dynamic`` of the ``Gather`` nodes alone)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    config = DefaultWeightOnlyQuantConfig(
        block_size=128, is_symmetric=True, bits=8, op_types_to_quantize=("MatMul",)
    )
    quantizer = MatMulNBitsQuantizer(onnx.load(str(raw)), algo_config=config)
    quantizer.process()
    products = made.with_suffix(".products.onnx")
    quantizer.model.save_model_to_file(str(products), use_external_data_format=False)
    quantize_dynamic(str(products), str(made), weight_type=QuantType.QInt8, op_types_to_quantize=["Gather"])
    products.unlink()


# The int8 recipes the export tries, each by name, fastest first; it keeps the first whose
# logits stay within the bound of the torch model's. Dynamic int8 is the fastest (about 130 ms
# for 8 pairs against 220 ms for weights only, one thread) but quantises activations too: the
# listwise reader drifted 1.25 (per channel) against a bound of 0.29, weights only 0.20
# (docs/answering.md). 7-bit weights (``reduce_range``) avoid the saturation of u8 x s8
# products on CPUs without VNNI.
QUANTISATIONS: dict[str, Callable[[Path, Path], None]] = {
    "int8 per channel": _dynamic(per_channel=True),
    "int8 per channel, 7-bit weights": _dynamic(per_channel=True, reduce_range=True),
    "int8 per tensor": _dynamic(per_channel=False),
    "int8 weights only (blocks of 128), int8 embeddings": _weights_only,
}


def export(reader: Any, out: Path, meta: dict[str, Any], check: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """Write ``reader`` (``evals.reader.Reader``) as int8 ONNX at ``out`` with its manifest.

    Each of ``QUANTISATIONS`` is made in a temporary folder and its logits compared with the
    torch model's on ``_CHECK`` and ``check`` (pairs from the training data); the first (the
    fastest) whose drift is within ``_AGREEMENT`` of the largest logit is kept. Only then are the
    model and its manifest replaced (each atomically, the model first); a reader that drifts more
    raises ``ConfigError`` and leaves the shipped files as they were."""
    import logging
    import os
    import tempfile
    import warnings

    import torch

    net = reader.net.eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    pairs = [*_CHECK, *check]
    questions, sentences = [q for q, _ in pairs], [s for _, s in pairs]
    want = reader.logits(questions, sentences)
    bound = _AGREEMENT * max(1.0, float(np.max(np.abs(want))))
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw = Path(tmp) / "reader-fp32.onnx"
        sample = reader.batch([q for q, _ in _CHECK], [s for _, s in _CHECK])
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net,
                tuple(sample[n] for n in names),
                str(raw),
                input_names=names,
                output_names=["logit"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "logit": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        drifts: dict[str, float] = {}
        made_by = {name: Path(tmp) / f"reader-{n}.onnx" for n, name in enumerate(QUANTISATIONS)}
        for name, make in QUANTISATIONS.items():
            made = made_by[name]
            logging.disable(logging.WARNING)
            try:
                make(raw, made)
            finally:
                logging.disable(logging.NOTSET)
            got = ReaderModel(made, check=False).logits(questions, sentences)
            drifts[name] = round(float(np.max(np.abs(got - want))), 4)
        within = [name for name in QUANTISATIONS if drifts[name] <= bound]
        if not within:
            raise ConfigError(
                f"Every int8 export of the reader drifts from the torch model's logits by more than "
                f"{bound:.3f} ({drifts}); nothing was written. The trained weights stay in the "
                "checkpoint: python -m evals.reader exports again without training"
            )
        best = within[0]
        manifest = {
            "command": "python -m evals.reader",
            "shortlist": SHORTLIST,
            "max_tokens": MAX_TOKENS,
            "quantisation": best,
            "int8_drift": drifts[best],
            "int8_drift_bound": round(bound, 4),
            "int8_drift_by_quantisation": drifts,
            "int8_drift_pairs": len(pairs),
            "files": {out.name: sha256(made_by[best])},
            **meta,
        }
        written = Path(tmp) / "reader-model.json"
        written.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        os.replace(made_by[best], out)
        os.replace(written, manifest_path(out))
    return [out, manifest_path(out)]


class ReaderModel:
    """The exported reader on ONNX Runtime: logits for (question, sentence) pairs."""

    def __init__(
        self, path: Path = MODEL, check: bool = True, threads: int = 1, checked_sha256: str | None = None
    ) -> None:
        """``threads``: onnxruntime's intra-op threads; one, since the server answers several
        questions at once. ``checked_sha256``: the file's digest as another manifest already
        checked it on this load (the stacked trees' names this file), so it is not read twice."""
        self.path = Path(path)
        self._checked_sha256 = checked_sha256
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        if check:
            self._check()

    def _check(self) -> None:
        from bot.manifest import REFIT

        meta = manifest_path(self.path)
        if not self.path.is_file() or not meta.is_file():
            raise ConfigError(
                f"No reader model at {self.path} (and {meta.name}); train it with "
                f"python -m evals.reader, or set DESPATCH_SCORER=contextual"
            )
        manifest = json.loads(meta.read_text(encoding="utf-8"))
        want = manifest.get("files", {}).get(self.path.name)
        if want != (self._checked_sha256 or sha256(self.path)):
            raise ConfigError(f"{self.path} is not the file {meta.name} records; {REFIT}")
        if manifest.get("max_tokens") != MAX_TOKENS:
            raise ConfigError(
                f"{meta} was made for {manifest.get('max_tokens')} tokens, not {MAX_TOKENS}; {REFIT}"
            )

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                from index.embedding import default_model_path

                tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
                tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
                tokenizer.enable_padding()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                self._session = ort.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"]
                )
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def logits(self, questions: Sequence[str], sentences: Sequence[str]) -> np.ndarray:
        if not questions:
            return np.zeros(0)
        session, tokenizer = self._load()
        encoded = tokenizer.encode_batch(list(zip(questions, sentences, strict=True)))
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        return np.asarray(session.run(None, feeds)[0], dtype=float).reshape(-1)


def reader_columns(logits: np.ndarray) -> np.ndarray:
    """For one question's candidates, the reader's logit (NaN where it did not read), its gap to
    the best logit read, and its place among those read (NaN where not read)."""
    logits = np.asarray(logits, dtype=float)
    read = ~np.isnan(logits)
    gap = np.full(len(logits), np.nan)
    place = np.full(len(logits), np.nan)
    if read.any():
        best = np.nanmax(logits)
        gap[read] = logits[read] - best
        order = (-logits[read]).argsort(kind="stable").argsort(kind="stable")
        place[read] = order
    return np.column_stack([logits, gap, place]) if len(logits) else np.zeros((0, 3))


def reader_rows(rows: np.ndarray) -> np.ndarray:
    """What the stacked trees read: ``rows`` holds the feature rows with the reader's logit as
    one more column (NaN where it did not read); out come the contextual rows
    (``bot.contextual.context_rows``) and ``reader_columns``."""
    from bot.answerability import FEATURES
    from bot.contextual import CONTEXT_FEATURES, context_rows

    rows = np.asarray(rows, dtype=float).reshape(-1, len(FEATURES) + 1)
    if len(rows) == 0:
        return np.zeros((0, len(FEATURES) + len(CONTEXT_FEATURES) + len(READER_FEATURES)))
    return np.hstack([context_rows(rows[:, :-1]), reader_columns(rows[:, -1])])


class ReaderTrees(BoostedScorer):
    """The stacked trees alone: P(answers) from feature rows plus the reader's logit column."""

    name = "reader"
    default_manifest = MANIFEST

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return reader_rows(rows)


class ReaderScorer:
    """A ``SentenceScorer``: the contextual scorer shortlists, the reader reads the shortlist,
    and the stacked trees score every candidate from both."""

    name = "reader"

    def __init__(
        self, base: Any, reader: ReaderModel, trees: ReaderTrees, shortlist: int = SHORTLIST
    ) -> None:
        self.base = base
        self.reader = reader
        self.trees = trees
        self.shortlist = shortlist
        self.threshold = trees.threshold
        self.source: Path | None = trees.source

    @classmethod
    def load(cls, path: Path | None = None) -> ReaderScorer:
        from bot.contextual import ContextualScorer

        trees = ReaderTrees.load(path)  # its manifest names the reader model it was fitted with
        model = (trees.source or MODEL).parent / MODEL.name
        checked = trees.manifest.get("files", {}).get(MODEL.name)  # read_manifest hashed it
        return cls(ContextualScorer.load(), ReaderModel(model, checked_sha256=checked), trees)

    def logits(self, candidates: Candidates) -> np.ndarray:
        """The reader's logit for each shortlisted candidate (NaN for the rest)."""
        rows = candidates.rows
        out = np.full(len(rows), np.nan)
        if len(rows) == 0:
            return out
        chosen = shortlist(self.base.predict(rows), rows, self.shortlist)
        got = self.reader.logits(
            [candidates.question] * len(chosen), [candidates.sentences[i] for i in chosen]
        )
        out[chosen] = got
        return out

    def score(self, candidates: Candidates) -> np.ndarray:
        if len(candidates.rows) == 0:
            return np.zeros(0)
        return self.trees.predict(np.column_stack([candidates.rows, self.logits(candidates)]))


def shortlist(base: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
    """The ``k`` candidates the reader reads: the best by the base scorer, ranked as the answerer
    ranks (``bot.answerability.answer_order``)."""
    from bot.answerability import answer_order

    return answer_order(base, rows)[:k]
