from __future__ import annotations

from collections.abc import Iterator

import pytest

from http_recorder import HttpRecorder


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    with HttpRecorder() as server:
        yield server
