"""The embedding model on ONNX Runtime: the embedder over the export ``index.onnx_export``
makes (fp32 or int8). Running it needs only onnxruntime and the model's ``tokenizer.json``
(no torch); the export is found, or made on first use, when the first session loads.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from despatch.errors import OfflineResourceError
from index.embedding import check_model_folder, default_model_path, max_seq_length, vector_space
from index.onnx_export import check_export, ensure_export
from index.records import VectorSpace

_DIM = 384
# Calls of at most this many texts (a question, the answerer's candidate sentences, a short
# story from the CMS) run on a session whose threads spin between calls, which answers the next
# call sooner: a question's vector in 3.0-3.6 ms with spinning against 4.15 ms without, in
# three archive runs (docs/benchmarks.md). Larger calls (ingest batches) run on one whose
# threads sleep, leaving the cores to the entity recogniser beside them; whether spinning would
# slow ingest was not settled (those runs varied by 10% on this shared machine). A process that
# does both holds the model twice (about 90 MB more for fp32).
INTERACTIVE = 8


class OnnxEmbedder:
    """The embedding model on ONNX Runtime (CPU); exports and loads lazily, on first use."""

    def __init__(
        self,
        model_path: Path | None,
        cache: Path,
        quantized: bool = False,
        batch_size: int = 64,
        threads: int = 0,
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        check_model_folder(self.model_path)
        self.cache = Path(cache)
        self.quantized = quantized
        self.batch_size = batch_size
        self.threads = threads
        self.backend = "onnx-int8" if quantized else "onnx"
        self._sessions: dict[bool, Any] = {}
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._counter: Any = None

    @property
    def space(self) -> VectorSpace:
        return vector_space(self.model_path, self.backend)

    def session(self, interactive: bool = False) -> Any:
        """The loaded session: one for interactive calls, one for batches (see ``embed``)."""
        with self._lock:
            if self._sessions.get(interactive) is None:
                if self._path is None:  # found (or made) and checked once for both sessions
                    path = ensure_export(self.model_path, self.cache, self.quantized)
                    check_export(path)
                    self._path = path
                self._sessions[interactive] = self._load(self._path, spin=interactive)
            return self._sessions[interactive]

    def _load(self, path: Path, spin: bool) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Spinning worker threads answer the next call sooner (see INTERACTIVE).
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise OfflineResourceError(
                f"Cannot load the ONNX model {path} ({exc}); delete {path.parent} so it is "
                "exported again, or set DESPATCH_EMBED_BACKEND=torch"
            ) from exc

    def _tokenizers(self) -> tuple[Any, Any]:
        """One tokenizer that truncates to the model's limit, one that counts without limits."""
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            path = self.model_path / "tokenizer.json"
            if not path.exists():
                raise OfflineResourceError(
                    f"No tokenizer.json in {self.model_path}; the ONNX backend needs the fast "
                    "tokenizer file. Set DESPATCH_EMBED_BACKEND=torch"
                )
            tokenizer = Tokenizer.from_file(str(path))
            tokenizer.no_padding()  # the file asks for fixed padding to 128; batches pad here
            tokenizer.enable_truncation(self.max_wordpieces)
            counter = Tokenizer.from_file(str(path))
            counter.no_padding()
            counter.no_truncation()
            self._tokenizer, self._counter = tokenizer, counter
        return self._tokenizer, self._counter

    @property
    def max_wordpieces(self) -> int:
        """The model's sequence limit, special tokens included; longer input is truncated."""
        return max_seq_length(self.model_path)

    def count_wordpieces(self, texts: Sequence[str]) -> list[int]:
        """Wordpieces of each text, without the two special tokens the model adds."""
        if not texts:
            return []
        _, counter = self._tokenizers()
        return [len(e.ids) for e in counter.encode_batch(list(texts), add_special_tokens=False)]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, _DIM), dtype=np.float32)
        tokenizer, _ = self._tokenizers()
        session = self.session(interactive=len(texts) <= INTERACTIVE)
        # sentence-transformers strips each text before tokenising; so do we, for equal vectors.
        encoded = tokenizer.encode_batch([str(t).strip() for t in texts])
        lengths = np.array([len(e.ids) for e in encoded])
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: less padding
        out = np.empty((len(texts), _DIM), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                n = int(lengths[row])
                ids[i, :n] = encoded[row].ids
                mask[i, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = session.run(None, feeds)[0]
        return out
