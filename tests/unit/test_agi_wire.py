"""FastAGI wire format: the environment block Asterisk sends, and a connection dropped mid-way."""
import asyncio

import pytest

from agi.server import operator_login, parse_headers, read_headers

WIRE = (b"agi_network: yes\nagi_network_script: operator_ready\nagi_request: agi://127.0.0.1:4573/operator_ready\n"
        b"agi_channel: PJSIP/op1-00000002\nagi_language: en\nagi_type: PJSIP\nagi_callerid: op1\n"
        b"agi_context: dialer-operators\nagi_extension: *71\nagi_priority: 2\n\n")


def reader_of(data: bytes, eof=True) -> asyncio.StreamReader:
    r = asyncio.StreamReader()
    r.feed_data(data)
    if eof:
        r.feed_eof()
    return r


async def test_headers_of_a_real_request():
    headers = await read_headers(reader_of(WIRE))
    assert headers["agi_network_script"] == "operator_ready"
    assert operator_login(headers) == "op1"


async def test_a_connection_dropped_before_the_blank_line_does_not_spin():
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(read_headers(reader_of(WIRE[:40])), 1)


async def test_oversized_headers_are_refused():
    with pytest.raises(ValueError):
        await asyncio.wait_for(read_headers(reader_of(b"x: " + b"a" * 20000 + b"\n", eof=False)), 1)


@pytest.mark.parametrize("channel,login", [("PJSIP/op1-00000002", "op1"), ("PJSIP/anna.k-0000abcd", "anna.k"),
                                           ("SIP/op1-1", None), ("", None), ("PJSIP/carrier", None)])
def test_operator_login_from_channel(channel, login):
    assert operator_login(parse_headers(f"agi_channel: {channel}".encode())) == login
