"""A Faust worker on forewarn's transport that records every record its agent sees, then exits.

Run by tests/streams/test_transport.py as ``python transport_probe.py SETTINGS_JSON TOPIC
EXPECTED OUT``: the stream buffer is a few records deep and the agent takes a few turns of the
event loop per record, so the consumer's eager delivery meets a full buffer and must finish
those deliveries as tasks; the agent is a plain ``stream.events()`` loop, as forewarn's read.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import faust

from forewarn.config import Settings
from forewarn.streams.transport import App

BUFFER = 4
SLOWER = 3


def main(settings_json: str, topic: str, expected: int, out: Path) -> None:
    settings = Settings.model_validate_json(settings_json)
    app = App(
        f"{settings.app_id}-probe",
        broker=f"kafka://{settings.kafka}",
        store="memory://",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        stream_buffer_maxsize=BUFFER,
    )
    source = app.topic(topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    seen: list[tuple[int, int, str]] = []

    @app.agent(source, name="probe")
    async def probe(stream: Any) -> None:
        async for event in stream.events():
            for _ in range(SLOWER):  # a few turns of the loop per event: the consumer hands on
                await asyncio.sleep(0)  # one per turn, so the buffer fills and deliveries wait
            seen.append((event.message.partition, event.message.offset, event.value.decode()))
            if len(seen) == expected:
                deferred = app.consumer.deferred_deliveries
                out.write_text(json.dumps({"seen": seen, "deferred": deferred}))
                os.kill(os.getpid(), signal.SIGTERM)

    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
