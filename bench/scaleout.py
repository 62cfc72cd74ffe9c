"""Benchmark: scale-out throughput, one `soundstage worker` process against two.

A real cluster on this machine: a throwaway PostgreSQL database, a Redis database
number of our own (it must be empty), `soundstage serve` with the broker set, and 1
or 2 `soundstage worker --queues render --threads 1` processes, each with its own
data folder as on separate machines, sharing one files folder. A batch of short
ambient tracks goes in through `POST /api/batch/generate`. The time is measured from
the submit to the last job's `finished_at`. Every timed batch comes after a warm-up
track per worker (SoundFont loaded, imports done). The configurations alternate
within each repeat, so machine noise hits both alike. The baseline is 1 worker in
the same run.

    .venv/bin/python bench/scaleout.py [--tracks 8] [--duration 30] [--runs 3] [--write]
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from music_generation import write_section  # noqa: E402

SOUNDSTAGE = Path(sys.executable).with_name("soundstage")
SECTION = "## Scale-out throughput"
PROMPT = "rain on a tin roof, slow piano, warm pads"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
EMAIL, PASSWORD = "scaleout@example.com", "Throughput of two worker processes!"
BATCH_TIMEOUT_S = 1800


@dataclass
class Run:
    workers: int
    wall_s: float
    job_s: list[float]  # run time of each job (finished - started)


@dataclass
class Cluster:
    """Settings shared by every process of the benchmark cluster."""

    work: Path
    database_url: str
    broker_url: str
    env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "SOUNDSTAGE_DATABASE_URL": self.database_url,
            "SOUNDSTAGE_BROKER_URL": self.broker_url,
            "SOUNDSTAGE_SECRET_KEY": secrets.token_urlsafe(32),
            "SOUNDSTAGE_STORAGE_URL": (self.work / "files").as_uri(),
            "SOUNDSTAGE_RATE_LIMIT_ENABLED": "false",
            "SOUNDSTAGE_JOB_BUDGET_USD": "none",
            "SOUNDSTAGE_USER_DAILY_BUDGET_USD": "none",
        }
        (self.work / "files").mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *args: str) -> subprocess.Popen:
        """Start `soundstage <args>` with its own data folder; output goes to <name>.log."""
        data_dir = self.work / name
        data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.work / f"{name}.log").open("w")
        process = subprocess.Popen(
            [str(SOUNDSTAGE), *args],
            env={**self.env, "SOUNDSTAGE_DATA_DIR": str(data_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.work / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, process: subprocess.Popen) -> None:
        """SIGTERM (a worker's warm shutdown), then SIGKILL if it does not exit in 60 s."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def throwaway_database():
    """A new PostgreSQL database on 127.0.0.1:5432, dropped afterwards; yields its URL."""
    name = f"soundstage_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def own_redis_db(base_url: str, number: int):
    """Redis database `number`, which must be empty (it is someone else's otherwise)."""
    client = redis.Redis.from_url(f"{base_url}/{number}")
    if client.dbsize():
        raise SystemExit(f"Redis database {number} is not empty: pick a free one with --redis-db")
    try:
        yield f"{base_url}/{number}"
    finally:
        client.flushdb()
        client.close()


def wait_until(check, what: str, timeout_s: float, process: subprocess.Popen, log: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited ({process.returncode}):\n{log}")
        if check():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout_s:.0f} s")


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def login(base: str) -> dict[str, str]:
    body = {"email": EMAIL, "password": PASSWORD}
    registered = httpx.post(f"{base}/api/auth/register", json=body, timeout=30)
    if registered.status_code not in (201, 409):
        raise RuntimeError(f"register: {registered.status_code} {registered.text}")
    response = httpx.post(f"{base}/api/auth/login", json=body, timeout=30)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['access_token']}"}


def run_batch(base: str, auth: dict, db_url: str, count: int, duration_s: float, seed: int):
    """Submit `count` tracks in one batch; (wall seconds to the last finish, job seconds)."""
    template = {"prompt": PROMPT, "duration_s": duration_s, "seed": seed}
    submitted = datetime.now(UTC)
    response = httpx.post(
        f"{base}/api/batch/generate",
        json={"template": template, "count": count},
        headers=auth,
        timeout=60,
    )
    if response.status_code != 202:
        raise RuntimeError(f"batch refused: {response.status_code} {response.text}")
    batch = response.json()
    deadline = time.monotonic() + BATCH_TIMEOUT_S
    while batch["state"] == "running":
        if time.monotonic() > deadline:
            raise RuntimeError(f"batch not finished after {BATCH_TIMEOUT_S} s: {batch['counts']}")
        time.sleep(0.25)
        batch = httpx.get(f"{base}/api/batch/{batch['id']}", headers=auth, timeout=30).json()
    if batch["state"] != "completed":
        errors = {item["error"] for item in batch["items"] if item["error"]}
        raise RuntimeError(f"batch ended {batch['counts']}: {errors}")
    job_ids = [item["job_id"] for item in batch["items"]]
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        rows = conn.execute(
            "SELECT started_at, finished_at FROM jobs WHERE id = ANY(%s)", (job_ids,)
        ).fetchall()
    last = max(finished for _, finished in rows)
    return (last - submitted).total_seconds(), [(f - s).total_seconds() for s, f in rows]


def worker_ready(cluster: Cluster, name: str) -> bool:
    """Celery logs "<hostname> ready." once it consumes its queues."""
    return " ready." in cluster.log_tail(name, 1_000_000)


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a live process (its own peak; FFmpeg children are separate processes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def table_bytes(db_url: str) -> int:
    with psycopg.connect(db_url.replace("postgresql+psycopg", "postgresql")) as conn:
        return conn.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchone()[0]


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and ".tmp" not in p.parts)


def measure(args: argparse.Namespace) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="soundstage-bench-") as tmp,
        throwaway_database() as db_url,
        own_redis_db(args.redis, args.redis_db) as broker_url,
    ):
        cluster = Cluster(Path(tmp), db_url, broker_url)
        try:
            return run_all(cluster, args)
        except Exception:
            for name in ("migrate", "api", *(f"worker{i}" for i in range(1, 3))):
                print(f"--- {name}.log ---\n{cluster.log_tail(name)}", file=sys.stderr)
            raise
        finally:
            cluster.stop_all()


def run_all(cluster: Cluster, args: argparse.Namespace) -> dict:
    load_start = os.getloadavg()[0]
    migrate = cluster.start("migrate", "db", "upgrade")
    if migrate.wait(timeout=300) != 0:
        raise RuntimeError("soundstage db upgrade failed")
    db_start = table_bytes(cluster.database_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    api = cluster.start("api", "serve", "--port", str(port))
    wait_until(lambda: healthy(base), "soundstage serve", 120, api, cluster.log_tail("api"))
    auth = login(base)
    runs: list[Run] = []
    peaks: list[float] = []
    tracks = 0
    for repeat in range(1, args.runs + 1):
        for workers in args.workers:
            names = [f"worker{i}" for i in range(1, workers + 1)]
            procs = [
                cluster.start(n, "worker", "--queues", "render", "--threads", "1") for n in names
            ]
            for name, proc in zip(names, procs, strict=True):
                wait_until(
                    lambda name=name: worker_ready(cluster, name),
                    f"{name} (Celery)", 120, proc, cluster.log_tail(name),
                )  # fmt: skip
            warm_seed, timed_seed = 9000 + 100 * repeat, 1000 * repeat  # same work for each N
            run_batch(base, auth, cluster.database_url, workers, args.duration, warm_seed)
            wall, job_s = run_batch(
                base, auth, cluster.database_url, args.tracks, args.duration, timed_seed
            )
            tracks += workers + args.tracks
            peaks += [peak_rss_mib(p.pid) for p in procs]
            for proc in procs:
                cluster.stop(proc)
            runs.append(Run(workers, wall, job_s))
            print(f"run {repeat}, {workers} worker(s): {args.tracks} tracks in {wall:.1f} s "
                  f"({args.tracks / wall * 60:.1f} tracks/min), median job "
                  f"{statistics.median(job_s):.1f} s", flush=True)  # fmt: skip
    return {
        "runs": runs,
        "peak_worker_mib": max(peaks),
        "bytes_per_track": folder_bytes(cluster.work / "files") / tracks,
        "db_bytes_per_track": (table_bytes(cluster.database_url) - db_start) / tracks,
        "tracks_total": tracks,
        "load_start": load_start,
    }


def summarize(runs: list[Run], workers: int, tracks: int) -> dict:
    mine = [r for r in runs if r.workers == workers]
    wall = statistics.median(r.wall_s for r in mine)
    return {
        "workers": workers,
        "walls": [r.wall_s for r in mine],
        "wall": wall,
        "per_min": tracks / wall * 60,
        "job": statistics.median(s for r in mine for s in r.job_s),
    }


def markdown(result: dict, args: argparse.Namespace) -> str:
    rows = [summarize(result["runs"], n, args.tracks) for n in args.workers]
    base = rows[0]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    mb_per_min = result["bytes_per_track"] / 1e6 / (args.duration / 60)
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {os.cpu_count()} cores ({cpu}), load "
        f"average {result['load_start']:.1f} at the start and {os.getloadavg()[0]:.1f} at the "
        "end (the machine was shared). Reproduce: `.venv/bin/python "
        f"bench/scaleout.py --tracks {args.tracks} --duration {args.duration:g} "
        f"--runs {args.runs} --write`.",
        "",
        f"A batch of {args.tracks} ambient tracks of {args.duration:g} s (defaults: MP3, "
        "MIDI, cover, stems) through `POST /api/batch/generate` to a real cluster: "
        "`soundstage serve` with PostgreSQL (a throwaway database) and Redis as the "
        "broker, and N `soundstage worker --queues render --threads 1` processes. The "
        "wall time runs from the submit to the last job's `finished_at`. Each worker "
        "first runs one warm-up track, so imports and the SoundFont are loaded. The "
        f"configurations alternate within each of {args.runs} repeats; the table gives "
        "medians. *Job* is the median run time of one track (claim to completion). The "
        "baseline is 1 worker process, measured in the same run.",
        "",
        "| worker processes | wall per batch (runs) | tracks per minute | × 1 worker | median job |",
        "|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        walls = ", ".join(f"{w:.1f}" for w in row["walls"])
        lines.append(
            f"| {row['workers']} | {row['wall']:.1f} s ({walls}) | {row['per_min']:.1f} "
            f"| {row['per_min'] / base['per_min']:.2f}× | {row['job']:.1f} s |"
        )
    lines += [
        "",
        f"This machine has {os.cpu_count()} cores, so a second worker process can at most "
        f"double throughput (ideal ratio ≤ {os.cpu_count()}). A job this short does not keep "
        "both cores busy all the time, so a second process fills the gaps; the price is each "
        f"job's time: the median job took {base['job']:.1f} s with one worker and "
        f"{rows[-1]['job']:.1f} s with {rows[-1]['workers']} "
        f"({rows[-1]['job'] / base['job']:.2f}×). When the machine is shared (see the load "
        "average), two processes also win a larger share of the contended CPU, which "
        "flatters the ratio. Long tracks spend most of their time in the render pass, which "
        "already runs on two cores (two pipelined threads, FLAC encoders beside them), so "
        "expect less from a second process there ([scale-out sizing](scale-out.md#sizing-guide)).",
        "",
        f"Measured along the way, for sizing: peak resident memory of a worker process "
        f"{result['peak_worker_mib']:.0f} MiB (its own, FFmpeg children apart); files "
        f"stored {result['bytes_per_track'] / 1e6:.1f} MB per track ({mb_per_min:.1f} MB per "
        f"minute of audio with stems); PostgreSQL tables grew "
        f"{result['db_bytes_per_track'] / 1024:.1f} kB per track "
        f"({result['tracks_total']} tracks, warm-ups included).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=8, help="tracks per timed batch")
    parser.add_argument("--duration", type=float, default=30, help="seconds per track")
    parser.add_argument("--runs", type=int, default=3, help="repeats of each configuration")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="baseline first")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis, no db number")
    parser.add_argument("--redis-db", type=int, default=12, help="an empty Redis database")
    parser.add_argument(
        "--write", action="store_true", help="replace the section in docs/benchmarks.md"
    )
    args = parser.parse_args()
    text = markdown(measure(args), args)
    print(text)
    if args.write:
        write_section(text)
        print("updated docs/benchmarks.md")


if __name__ == "__main__":
    main()
