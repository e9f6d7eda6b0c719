"""Embedding throughput on CUDA against the CPU, with Despatch's own embedder and device setting.

    python -m bench.gpu --model DIR --chunks chunks.json   (a JSON list of chunk texts)

Run on a machine with a GPU; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    import torch

    from bot.assembly import assemble
    from despatch.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--chunks", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    texts = json.loads(args.chunks.read_text()) * args.repeat
    out: dict[str, object] = {
        "chunks": len(texts),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    for device, batch in (("auto", 64), ("cuda", 64), ("cuda", 256), ("cpu", 64)):
        if device != "cpu" and not torch.cuda.is_available():
            continue
        settings = load_settings(
            model_path=args.model, embed_backend="torch", device=device, batch_size=batch
        )
        embedder: Any = assemble(settings).embedder  # the torch embedder: .model and .device
        embedder.model.float()  # weights travel as fp16 to fit the transfer limit; compute in fp32
        sample = texts if device != "cpu" else texts[: len(texts) // args.repeat]
        embedder.embed(sample[:256])  # warm-up
        if embedder.device == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        vectors = embedder.embed(sample)
        if embedder.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
        out[f"{device}-batch{batch}"] = {
            "resolved_device": embedder.device,
            "chunks_per_s": round(len(sample) / seconds, 1),
            "seconds": round(seconds, 3),
            "dim": int(vectors.shape[1]),
        }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
