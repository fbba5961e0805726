"""The streaming form reader and the content checks on their own (gutbrain.web.uploads)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gutbrain.web.uploads import (
    MAX_GZIP_RATIO,
    ReceivedFile,
    ReceivedForm,
    UploadError,
    check_content,
    display_name,
    receive_form,
)

T = TypeVar("T")
BOUNDARY = "xyzzy"
CHUNK = 64 * 1024


def _part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def _body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class _Stream:
    """A request body in fixed chunks that counts how much of it was read."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.read = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        while self.read < len(self.body):
            chunk = self.body[self.read : self.read + CHUNK]
            self.read += len(chunk)
            yield chunk


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on its own loop in a thread (a browser test may hold this thread's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _receive(
    body: bytes, tmp: Path, caps: dict[str, int], stream: _Stream | None = None, **options: Any
) -> ReceivedForm:
    stream = stream or _Stream(body)
    return _run(
        receive_form(
            f"multipart/form-data; boundary={BOUNDARY}",
            stream.chunks(),
            tmp_dir=tmp,
            file_caps=caps,
            **options,
        )
    )


def test_over_cap_stops_reading_within_a_chunk_of_the_cap(tmp_path: Path) -> None:
    cap = 256 * 1024
    body = _body(_part("reads", b"@" * (cap * 20), "big.fq"))
    stream = _Stream(body)
    with pytest.raises(UploadError) as caught:
        _receive(body, tmp_path, {"reads": cap}, stream)
    assert caught.value.status == 413
    assert stream.read <= cap + 2 * CHUNK
    assert list(tmp_path.iterdir()) == []


def test_files_get_server_names_and_keep_the_client_name_as_text(tmp_path: Path) -> None:
    body = _body(_part("label", b"s1"), _part("reads", b"@r\nA\n+\nI\n", "../../etc/passwd"))
    form = _receive(body, tmp_path, {"reads": 1000})
    received = form.files["reads"]
    assert received.original_name == "../../etc/passwd"
    assert received.path.parent == tmp_path
    assert received.path.name.startswith(".upload-")
    assert form.fields == {"label": "s1"}


def test_csrf_must_be_the_first_part(tmp_path: Path) -> None:
    late = _body(_part("reads", b"@r\nA\n+\nI\n", "r.fq"), _part("csrf", b"token"))
    with pytest.raises(UploadError) as caught:
        _receive(late, tmp_path, {"reads": 1000}, csrf=lambda t: t == "token")
    assert caught.value.status == 403
    assert list(tmp_path.iterdir()) == []
    first = _body(_part("csrf", b"token"), _part("reads", b"@r\nA\n+\nI\n", "r.fq"))
    form = _receive(first, tmp_path, {"reads": 1000}, csrf=lambda t: t == "token")
    assert "reads" in form.files


def test_not_a_multipart_form_is_415(tmp_path: Path) -> None:
    async def empty() -> AsyncIterator[bytes]:
        yield b""

    with pytest.raises(UploadError) as caught:
        _run(receive_form("application/json", empty(), tmp_dir=tmp_path, file_caps={"reads": 1}))
    assert caught.value.status == 415


def _received(tmp_path: Path, field: str, data: bytes) -> ReceivedFile:
    path = tmp_path / f"upload-{field}"
    path.write_bytes(data)
    return ReceivedFile(field, "x", path, size=len(data))


def test_multi_member_gzip_reads_are_one_layer_and_accepted(tmp_path: Path) -> None:
    data = gzip.compress(b"@r1\nACGT\n+\nIIII\n") + gzip.compress(b"@r2\nACGT\n+\nIIII\n")
    check_content(_received(tmp_path, "reads", data))


def test_gzip_ratio_cap_is_the_limit(tmp_path: Path) -> None:
    text = b"@" + b"A" * 2_000_000
    packed = gzip.compress(text, compresslevel=9)
    assert len(text) > MAX_GZIP_RATIO * len(packed)
    with pytest.raises(UploadError) as caught:
        check_content(_received(tmp_path, "reads", packed))
    assert caught.value.code == "GB-GZ-BOMB"


def test_text_tables_and_answers_pass_binary_ones_do_not(tmp_path: Path) -> None:
    check_content(_received(tmp_path, "table", b"taxon\tS1\nBacteroides\t3\n"))
    check_content(_received(tmp_path, "answers", "age: 38 # ünïcode\n".encode()))
    with pytest.raises(UploadError):
        check_content(_received(tmp_path, "table", b"taxon\x00\x01\x02"))
    with pytest.raises(UploadError):
        check_content(_received(tmp_path, "markers", b"\xff\xfe\x00b"))


@settings(max_examples=100)
@given(st.text(max_size=600))
def test_display_name_is_capped_and_has_no_control_characters(raw: str) -> None:
    shown = display_name(raw)
    assert 1 <= len(shown) <= 200
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in shown)
