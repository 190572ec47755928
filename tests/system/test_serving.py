"""The real web process (`python -m bot web`, as the Procfile serves it) at the edges of
HTTP: slow clients, malformed and oversized signed requests. Never a traceback."""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse

import pytest

from tests.support.slack import post, signed_headers, slash_command
from tests.support.web import WebProcess, web_env

MIB = 1024 * 1024


@pytest.fixture
def web(sqlite_db, slack_api, tmp_path):
    log = (tmp_path / "web.log").open("w+")
    process = WebProcess(web_env(sqlite_db, slack_api, LOG_LEVEL="INFO"), stdout=log, stderr=log)
    yield process
    process.stop()
    log.seek(0)
    assert "Traceback" not in log.read()


def signed(web: WebProcess, body: str, content_type: str = "application/x-www-form-urlencoded",
           **headers: str) -> int:
    return post(web.url + "/slack/events", body, content_type, {**signed_headers(body), **headers})[0]


def test_clients_that_never_send_their_body_hold_no_thread(web):
    stalled = []
    for _ in range(30):  # three times the threads that handle requests
        connection = socket.create_connection(("127.0.0.1", web.port))
        connection.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: 1000\r\n\r\n")
        stalled.append(connection)
    try:
        for _ in range(3):
            body = urllib.parse.urlencode(slash_command("help"))
            assert signed(web, body) == 200
    finally:
        for connection in stalled:
            connection.close()


def test_a_timestamp_that_is_not_a_number_is_refused(web):
    body = urllib.parse.urlencode(slash_command("help"))
    headers = signed_headers(body)
    assert post(web.url + "/slack/events", body, "application/x-www-form-urlencoded",
                {**headers, "X-Slack-Request-Timestamp": "soon"})[0] == 401
    assert post(web.url + "/slack/events", body, "application/x-www-form-urlencoded",
                {**headers, "X-Slack-Request-Timestamp": headers["X-Slack-Request-Timestamp"] + ".5"})[0] == 401


@pytest.mark.parametrize("payload", ["not json", "{\"type\": ", "[" * 1000 + "]" * 1000,
                                     "{\"a\":" * 1000 + "1" + "}" * 1000])
def test_a_signed_payload_that_is_not_usable_json_is_a_bad_request(web, payload):
    assert signed(web, urllib.parse.urlencode({"payload": payload})) == 400
    assert signed(web, payload, "application/json") == 400


def test_an_unsigned_bad_payload_is_refused_as_unsigned(web):
    assert post(web.url + "/slack/events", "payload=not+json", "application/x-www-form-urlencoded")[0] == 401


def test_a_signed_chunked_body_over_the_limit_is_refused(web):
    body = json.dumps({"type": "event_callback", "padding": "x" * (MIB + 10)})
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
    try:
        connection.request("POST", "/slack/events", body=iter([body[:MIB // 2].encode(), body[MIB // 2:].encode()]),
                           headers={"Content-Type": "application/json", **signed_headers(body)},
                           encode_chunked=True)
        assert connection.getresponse().status == 413
    finally:
        connection.close()
