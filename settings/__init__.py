"""Settings read once from the environment at start, never at import; a leaf for every package."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


def default_sqlite_path() -> Path:
    """The embedded database, in one place whatever the working directory: the user data dir."""
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).resolve() / "skserve" / "skserve.db"


class SettingsError(ValueError):
    """An environment variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    """Every knob skserve reads from its environment (documented in .env.example)."""

    database_url: str = field(default_factory=lambda: f"sqlite:///{default_sqlite_path()}")
    redis_url: str | None = None
    default_model: str | None = None
    admin_token: str | None = None
    api_token: str | None = None  # unset: prediction, protocol and job routes are open
    public_url: str | None = None  # the base of /usage's examples, e.g. https://ml.example.com
    model_path: str | None = None
    max_rows_per_request: int = 10_000
    max_body_bytes: int = 32 * 1024 * 1024
    batch_chunk_rows: int = 50_000
    prediction_log_sample: float = 1.0
    prediction_log_buffer_bytes: int = 16 * 2**20
    model_poll_seconds: float = 1.0
    log_level: str = "INFO"
    log_format: str = "json"
    fast_path: bool = True
    console: bool = True  # the web console at /ui/
    db_connect_timeout: float = 3.0
    db_statement_timeout: float = 5.0
    db_pool_timeout: float = 2.0
    drift_moderate_psi: float = 0.1  # PSI from which a column's drift is "moderate"
    drift_shifted_psi: float = 0.25  # PSI from which it is "shifted"
    drift_max_requests: int = 20_000  # logged requests a drift window counts before sampling
    drift_gauge_seconds: float = 300.0  # how often the drift gauges are refreshed; 0: never
    drift_gauge_window_seconds: float = 3600.0  # the window the gauges describe
    monitoring_statement_timeout: float = 30.0  # drift and performance queries
    upload_inspect_seconds: float = 30.0  # an uploaded pickle's check, in a child process
    upload_inspect_memory_mib: int = 2048

    @property
    def embedded_database(self) -> bool:
        """True when running on the embedded SQLite file rather than a server."""
        return self.database_url.startswith("sqlite")

    @property
    def embedded_queue(self) -> bool:
        """True when batch and training jobs run in-process instead of on RQ workers."""
        return self.redis_url is None


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(environ: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise SettingsError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {environ[name]!r}")


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (environ.get(name) or default).lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _database_url(environ: Mapping[str, str], default: str) -> str:
    url = environ.get("DATABASE_URL") or default
    scheme = url.split("://", 1)[0]
    if scheme == "postgres":
        raise SettingsError(
            "DATABASE_URL starts with postgres://, which SQLAlchemy does not read; "
            "write postgresql+psycopg2:// with the rest of the URL unchanged"
        )
    if not scheme.startswith(("postgresql", "sqlite")):
        raise SettingsError(
            f"DATABASE_URL must be a postgresql+psycopg2:// or sqlite:/// URL, got {scheme}://..."
        )
    return url


def _public_url(environ: Mapping[str, str]) -> str | None:
    raw = (environ.get("PUBLIC_URL") or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(
            f"PUBLIC_URL must be an http:// or https:// URL without query or fragment "
            f"(e.g. https://ml.example.com), got {raw!r}"
        )
    return raw.rstrip("/")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment, failing fast and naming a bad variable."""
    env = os.environ if environ is None else environ
    defaults = Settings()
    return Settings(
        database_url=_database_url(env, defaults.database_url),
        redis_url=env.get("REDIS_URL") or None,
        default_model=env.get("DEFAULT_MODEL") or None,
        admin_token=env.get("ADMIN_TOKEN") or None,
        api_token=env.get("API_TOKEN") or None,
        public_url=_public_url(env),
        model_path=env.get("MODEL_PATH") or None,
        max_rows_per_request=_int(env, "MAX_ROWS_PER_REQUEST", defaults.max_rows_per_request),
        max_body_bytes=_int(env, "MAX_BODY_BYTES", defaults.max_body_bytes),
        batch_chunk_rows=_int(env, "BATCH_CHUNK_ROWS", defaults.batch_chunk_rows),
        prediction_log_sample=_float(env, "PREDICTION_LOG_SAMPLE", 1.0, 0.0, 1.0),
        prediction_log_buffer_bytes=_int(
            env, "PREDICTION_LOG_BUFFER_BYTES", defaults.prediction_log_buffer_bytes, 2**16
        ),
        model_poll_seconds=_float(env, "MODEL_POLL_SECONDS", 1.0, 0.05, 60.0),
        log_level=(env.get("LOG_LEVEL") or defaults.log_level).upper(),
        log_format=_choice(env, "LOG_FORMAT", ("json", "text"), defaults.log_format),
        fast_path=_bool(env, "FAST_PATH", defaults.fast_path),
        # The console's pages have no login of their own: with API_TOKEN set they would show
        # jobs and predictions to anyone, so they are then off unless asked for.
        console=_bool(env, "CONSOLE", defaults.console and not env.get("API_TOKEN")),
        db_connect_timeout=_float(env, "DB_CONNECT_TIMEOUT", 3.0, 1.0, 600.0),
        db_statement_timeout=_float(env, "DB_STATEMENT_TIMEOUT", 5.0, 0.1, 3600.0),
        db_pool_timeout=_float(env, "DB_POOL_TIMEOUT", 2.0, 0.1, 600.0),
        **_drift_settings(env),
        upload_inspect_seconds=_float(env, "UPLOAD_INSPECT_SECONDS", 30.0, 1.0, 3600.0),
        upload_inspect_memory_mib=_int(
            env, "UPLOAD_INSPECT_MEMORY_MIB", defaults.upload_inspect_memory_mib, 256
        ),
    )


def _drift_settings(env: Mapping[str, str]) -> dict[str, float | int]:
    moderate = _float(env, "DRIFT_MODERATE_PSI", 0.1, 0.0, 100.0)
    shifted = _float(env, "DRIFT_SHIFTED_PSI", 0.25, 0.0, 100.0)
    if shifted < moderate:
        raise SettingsError(
            f"DRIFT_SHIFTED_PSI ({shifted}) must be at least DRIFT_MODERATE_PSI ({moderate})"
        )
    return {
        "drift_moderate_psi": moderate,
        "drift_shifted_psi": shifted,
        "drift_max_requests": _int(env, "DRIFT_MAX_REQUESTS", 20_000, minimum=0),
        "drift_gauge_seconds": _float(env, "DRIFT_GAUGE_SECONDS", 300.0, 0.0, 86400.0),
        "drift_gauge_window_seconds": _float(
            env, "DRIFT_GAUGE_WINDOW_SECONDS", 3600.0, 60.0, 90 * 86400.0
        ),
        "monitoring_statement_timeout": _float(
            env, "MONITORING_STATEMENT_TIMEOUT", 30.0, 0.1, 3600.0
        ),
    }
