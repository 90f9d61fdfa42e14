"""`bedrock-spend local up|down`: the emulator and the provisioned stack, for people who want to
poke at it with the AWS CLI (``aws --endpoint-url http://127.0.0.1:4566 …`` or ``awslocal``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from infra.local import emulator
from infra.local.clients import Clients
from infra.local.pipeline import LocalPipeline

PIDFILE = Path(".local/moto.pid")


def register(subparsers: Any) -> None:
    """Add the ``local`` command."""
    parser = subparsers.add_parser("local", help="start or stop the local stack (emulator + pipeline)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    up = sub.add_parser(
        "up",
        help="start moto on 127.0.0.1:4566, provision the stack and run the pipeline until Ctrl-C",
        description="Start (or reuse) the emulator, provision the stack from infra/template.yaml and keep "
        "the subscription, Firehose engine and mirror running: events you put into the Bedrock log group "
        "with the AWS CLI flow through the whole pipeline. Ctrl-C stops the pipeline; the emulator keeps "
        "running when it was started with --detach.",
    )
    up.add_argument("--port", type=int, default=emulator.DEFAULT_PORT)
    up.add_argument("--firehose-port", type=int, default=4573, help="port of the local Firehose API")
    up.add_argument("--detach", action="store_true", help="leave the emulator running after Ctrl-C")
    up.add_argument("--interval", type=float, default=2.0, help="seconds between pipeline polls")
    up.set_defaults(func=run_up)
    down = sub.add_parser("down", help="stop an emulator left running by 'local up --detach'")
    down.set_defaults(func=run_down)


def run_up(args: argparse.Namespace) -> int:
    """Serve the local stack until interrupted."""
    console = Console()
    emu = emulator.start(port=args.port, log_dir=Path(".local"))
    if emu.owned and emu.process is not None and args.detach:
        PIDFILE.parent.mkdir(parents=True, exist_ok=True)
        PIDFILE.write_text(str(emu.process.pid))
    try:
        with LocalPipeline(Clients(endpoint_url=emu.endpoint_url), firehose_port=args.firehose_port) as pipe:
            res = pipe.resources
            console.print(f"emulator {emu.endpoint_url} · Firehose API {pipe.api.endpoint_url}")
            console.print(f"bucket s3://{res.bucket_name} · Bedrock log group {res.bedrock_log_group}")
            console.print(f"delivery stream {res.delivery_stream_name} · mirror queue {res.queue_url}")
            console.print(
                f"try: aws --endpoint-url {emu.endpoint_url} logs put-log-events --log-group-name "
                f"{res.bedrock_log_group} --log-stream-name {res.bedrock_log_stream} --log-events …"
            )
            console.print("pipeline running — Ctrl-C to stop")
            signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops it as cleanly as Ctrl-C
            signal.signal(signal.SIGINT, _interrupt)  # also when started in the background
            try:
                while True:
                    if pipe.pump():
                        pipe.engine.flush()
                        pipe.drain_mirror()
                    time.sleep(args.interval)
            except KeyboardInterrupt:
                pipe.settle()
    finally:
        if not args.detach:
            emu.stop()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_down(args: argparse.Namespace) -> int:
    """Stop the detached emulator."""
    if not PIDFILE.exists():
        Console().print("no detached emulator recorded in .local/moto.pid")
        return 1
    pid = int(PIDFILE.read_text())
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    PIDFILE.unlink()
    Console().print(f"stopped emulator (pid {pid})")
    return 0
