"""Small pure pieces: phone numbers, log masking, media sniffing, backoff, signatures."""
from __future__ import annotations

import json
import logging

import pytest

from gateway.log_format import JsonFormatter
from gateway.media_types import sniff
from gateway.outbox import backoff_seconds
from gateway.phone_numbers import InvalidPhone, mask, to_e164
from gateway.signing import sign, verify


@pytest.mark.parametrize("raw,e164", [
    ("13812345678", "+8613812345678"), ("+86 138 1234 5678", "+8613812345678"), ("008613812345678", "+8613812345678"),
    ("010-65123456", "+861065123456"), ("(010) 6512 3456", "+861065123456"), ("65123456", "+861065123456"),
    ("+86 10 6512 3456", "+861065123456"), ("0311-8765432", "+863118765432"), ("022 2345 6789", "+862223456789"),
])
def test_phone_numbers_normalise_to_e164(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize("raw", ["12345", "1381234567", "12812345678", "010-1234567", "abc", "+86123", "138123456789", ""])
def test_invalid_phone_numbers_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        to_e164(raw)


def test_mask_keeps_prefix_and_last_four() -> None:
    assert mask("+8613812345678") == "138****5678"


def test_logs_mask_phones_and_names() -> None:
    record = logging.makeLogRecord({"msg": "callback to 13812345678 or 010-65123456 for BJ-20261122-000001", "requester_name": "王小明", "phone": "+8613812345678"})
    line = json.loads(JsonFormatter().format(record))
    assert "13812345678" not in json.dumps(line) and "65123456" not in line["msg"]
    assert line["msg"] == "callback to 138****5678 or 010-****3456 for BJ-20261122-000001"
    assert line["requester_name"] == "王**" and line["phone"] == "138****5678"


@pytest.mark.parametrize("head,mime", [
    (b"\xff\xd8\xff\xe0" + b"\0" * 28, "image/jpeg"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 24, "image/png"),
    (b"GIF89a" + b"\0" * 26, "image/gif"), (b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 16, "image/webp"),
    (b"\0\0\0\x18ftypmp42" + b"\0" * 20, "video/mp4"), (b"\0\0\0\x14ftypqt  " + b"\0" * 20, "video/quicktime"),
    (b"\x1a\x45\xdf\xa3" + b"\0" * 28, "video/webm"), (b"%PDF-1.7" + b"\0" * 24, None), (b"MZ\x90\0" + b"\0" * 28, None),
])
def test_media_types_are_sniffed_from_content(head: bytes, mime: str | None) -> None:
    assert sniff(head) == mime


def test_backoff_grows_exponentially_and_is_capped() -> None:
    ceilings = [max(backoff_seconds(attempt, 1.0, 60.0) for _ in range(300)) for attempt in (1, 3, 6, 12)]
    assert ceilings[0] <= 1.0 < ceilings[1] <= 4.0 < ceilings[2] <= 32.0 < ceilings[3] <= 60.0


def test_signature_covers_timestamp_and_body() -> None:
    s = sign("secret", "1700000000", b'{"id":"BJ-1"}')
    assert verify("secret", "1700000000", b'{"id":"BJ-1"}', s)
    assert not verify("secret", "1700000001", b'{"id":"BJ-1"}', s)
    assert not verify("secret", "1700000000", b'{"id":"BJ-2"}', s)
    assert not verify("other", "1700000000", b'{"id":"BJ-1"}', s)
