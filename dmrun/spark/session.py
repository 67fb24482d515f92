"""Starting Spark: requirement checks, the master URL and the session a run uses.

The checks here run before a run folder is created, without importing pyspark, so a machine
without pyspark or Java gets a config error (exit 2) that names what is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from dmrun.config.schema import ExperimentConfig, SparkConfig
from dmrun.errors import ConfigError, DmrunError

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"
# Environment variables read for the master URL, in order, when the config sets none.
MASTER_VARIABLES = ("DMRUN_SPARK_MASTER", "SPARK_MASTER")
INSTALL_HINT = "install it with pip install 'dmrun[spark]'"


def resolve_master(settings: SparkConfig | None, environ: dict[str, str] | None = None) -> tuple[str, str]:
    """Return the master URL and where it came from: ``spark.master``, an environment variable or the default.

    URLs are returned unchanged; ``check_master`` checks their form.
    """
    environ = os.environ if environ is None else environ
    if settings is not None and settings.master:
        return settings.master, "spark.master"
    for variable in MASTER_VARIABLES:
        if environ.get(variable, "").strip():
            return environ[variable].strip(), variable
    return DEFAULT_MASTER, "default"


# Master URLs as spark-submit takes them: local, local[N], local[*], local[N,F], local[*,F],
# local-cluster[N,C,M] (for tests), spark://HOST:PORT (one or more hosts), yarn, and k8s://URL.
MASTER_PATTERN = re.compile(r"local(\[(\d+|\*)(,\d+)?\])?|local-cluster\[\d+,\d+,\d+\]|spark://\S+|yarn|k8s://\S+")


def check_master(master: str, source: str) -> None:
    """Raise a ``ConfigError`` for a master URL that Spark would reject, before the JVM starts."""
    if MASTER_PATTERN.fullmatch(master) is None:
        where = "spark.master (or --master)" if source == "spark.master" else f"the environment variable {source}"
        raise ConfigError(
            f"{where}: {master!r} is not a Spark master URL",
            hint="use local[*], local[N], spark://HOST:PORT, yarn or k8s://https://HOST:PORT",
        )


def under_spark_submit(environ: dict[str, str] | None = None) -> bool:
    """Tell whether this process was started by spark-submit, which owns the JVM and the master."""
    environ = os.environ if environ is None else environ
    return "PYSPARK_GATEWAY_PORT" in environ


def find_java(environ: dict[str, str] | None = None) -> Path:
    """Return the ``java`` executable Spark will start: ``$JAVA_HOME/bin/java``, else ``java`` on PATH.

    Raises:
        ConfigError: naming the JAVA_HOME or PATH that was searched.
    """
    environ = os.environ if environ is None else environ
    java_home = environ.get("JAVA_HOME", "").strip()
    if java_home:
        java = Path(java_home) / "bin" / "java"
        if java.is_file() and os.access(java, os.X_OK):
            return java
        raise ConfigError(
            f"the spark engine needs a Java runtime, but JAVA_HOME={java_home} has no executable bin/java",
            hint="set JAVA_HOME to a Java 17 or 21 installation, or unset it to use `java` on PATH",
        )
    found = shutil.which("java", path=environ.get("PATH", os.defpath))
    if found is None:
        raise ConfigError(
            "the spark engine needs a Java runtime, but JAVA_HOME is not set and no `java` is on PATH",
            hint="install Java 17 or 21 (for example apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        )
    return Path(found)


def check_requirements(environ: dict[str, str] | None = None) -> None:
    """Check that pyspark is installed and a Java runtime is found, without importing pyspark.

    Raises:
        ConfigError: for a missing pyspark or Java runtime.
    """
    if importlib.util.find_spec("pyspark") is None:
        raise ConfigError("the spark engine needs pyspark, which is not installed", hint=INSTALL_HINT)
    if not under_spark_submit(environ):
        find_java(environ)


@dataclass
class SparkHandle:
    """The session a run uses, and whether dmrun started it (and so stops it after the run)."""

    session: Any  # pyspark.sql.SparkSession
    owned: bool
    info: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.owned:
            self.session.stop()


def start_session(config: ExperimentConfig) -> SparkHandle:
    """Return the active Spark session, or start one with the config's master and settings.

    A session that already exists in this process (spark-submit's, a notebook's or a test's) is
    reused as it is, and its own master is recorded.

    Raises:
        ConfigError: when pyspark or Java is missing, or Spark fails to start.
    """
    check_requirements()
    from pyspark.sql import SparkSession

    settings = config.spark or SparkConfig()
    master, source = resolve_master(settings)
    existing = SparkSession.getActiveSession()
    if existing is not None:
        return SparkHandle(existing, owned=False, info=session_info(existing, "existing session"))
    builder = SparkSession.builder.appName(f"dmrun {config.name}")
    if not under_spark_submit():
        builder = builder.master(master)
        if settings.driver_memory:
            builder = builder.config("spark.driver.memory", settings.driver_memory)
    else:
        source = "spark-submit"
    # Spark's console progress bars would mix with dmrun's own progress lines on stderr.
    conf = {"spark.ui.showConsoleProgress": "false", **settings.conf}
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as err:  # noqa: BLE001 - pyspark raises several types when the JVM fails to start
        raise ConfigError(
            f"Spark failed to start with master {master!r}: {type(err).__name__}: {str(err).strip()[:500]}",
            hint="check the master URL and that the Java runtime is version 17 or 21",
        ) from None
    logger.info("started Spark %s with master %s (%s)", session.version, session.sparkContext.master, source)
    return SparkHandle(session, owned=True, info=session_info(session, source))


def session_info(session: Any, source: str) -> dict[str, Any]:
    """Describe a session for run.json and data.json: Spark version, master and where the master came from."""
    return {"version": session.version, "master": session.sparkContext.master, "master_source": source}


# Characters of a Spark error message kept in dmrun's error; the rest is the JVM stack trace.
MAX_MESSAGE = 600


@contextlib.contextmanager
def spark_errors(error_type: type[DmrunError], action: str) -> Iterator[None]:
    """Turn an error raised by Spark during ``action`` into ``error_type`` with a short message.

    pyspark's exceptions carry the whole JVM stack trace in their text, which dmrun never prints
    without ``--verbose``; the first lines name the cause.
    """
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield
    except (PySparkException, Py4JError) as err:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        message = " ".join(lines[:3])[:MAX_MESSAGE]
        logger.debug("Spark error while %s", action, exc_info=True)
        raise error_type(f"Spark failed while {action}: {type(err).__name__}: {message}") from err
