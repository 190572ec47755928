"""The one Web API client: slack_sdk's, with retries that suit a bot serving many
workspaces from a few threads.

- A rate limit is waited out (``Retry-After``) only up to ``LONGEST_WAIT`` seconds, and by
  at most ``WAITING_PER_WORKSPACE`` threads of one workspace at once: a workspace that is
  being rate limited cannot hold the threads other workspaces' acknowledgements need. A
  call that is not retried fails at once; the person who asked is told, and the reminder
  pass tries again at its next pass.
- A post is never repeated blindly. After a 5xx or a dropped connection Slack may have
  posted it anyway, so every post carries a key in its message metadata, and before
  posting again the client looks for that key in the channel's latest messages.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web import SlackResponse

RETRIES = 3  # the most tries any handler adds to the first
LONGEST_WAIT = 30  # seconds of Retry-After that are waited out
WAITING_PER_WORKSPACE = 2
POST_EVENT = "competency_post"  # the message metadata type that carries a post's key
POSTED = "/chat.postMessage"

_waiting: Counter[str] = Counter()  # module-wide: Bolt deep-copies clients, and their handlers
_waiting_lock = threading.Lock()


def _workspace(request: HttpRequest) -> str:
    """Who a request is for: its token, which is one workspace's (kept only as a digest)."""
    token = next((value for name, value in request.headers.items() if name.lower() == "authorization"), "")
    return hashlib.sha256(str(token).encode()).hexdigest()


class SharedRateLimitRetries(RateLimitErrorRetryHandler):
    """slack_sdk's rate-limit handler, within the two bounds of this module."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        wait = next((values[0] for name, values in response.headers.items() if name.lower() == "retry-after"), "1")
        if not (wait.isdigit() and int(wait) <= LONGEST_WAIT):
            return False
        with _waiting_lock:  # a place among the waiting threads, freed when the wait is over
            if _waiting[_workspace(request)] >= WAITING_PER_WORKSPACE:
                return False
            _waiting[_workspace(request)] += 1
        return True

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        try:
            super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)
        finally:
            with _waiting_lock:
                _waiting[_workspace(request)] -= 1


class ServerErrorRetries(ServerErrorRetryHandler):
    """Retries a 5xx, except a post's (:class:`SlackClient` settles those)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return not request.url.endswith(POSTED) and super()._can_retry(
            state=state, request=request, response=response, error=error)


class ConnectionErrorRetries(ConnectionErrorRetryHandler):
    """Retries a dropped connection, except a post's (:class:`SlackClient` settles those)."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return not request.url.endswith(POSTED) and super()._can_retry(
            state=state, request=request, response=response, error=error)


def retry_handlers() -> list:
    return [SharedRateLimitRetries(max_retry_count=RETRIES), ServerErrorRetries(max_retry_count=2),
            ConnectionErrorRetries(max_retry_count=2)]


class SlackClient(WebClient):
    """slack_sdk's WebClient whose posts appear once (see the module's docstring)."""

    def chat_postMessage(self, **kwargs) -> SlackResponse:  # noqa: N802 - slack_sdk's name
        metadata = kwargs.get("metadata") or {"event_type": POST_EVENT, "event_payload": {"key": uuid.uuid4().hex}}
        kwargs["metadata"] = metadata
        key = (metadata.get("event_payload") or {}).get("key")
        attempt = 0
        while True:
            try:
                return super().chat_postMessage(**kwargs)
            except SlackApiError as error:
                if error.response.status_code < 500 or attempt == RETRIES:
                    raise
            except OSError:  # the connection dropped: the post may or may not have been made
                if attempt == RETRIES:
                    raise
            found = self._posted(kwargs.get("channel", ""), key)
            if found is not None:
                return found
            time.sleep(0.5 * 2 ** attempt)
            attempt += 1

    def _posted(self, channel: str, key: str) -> SlackResponse | None:
        """The channel's latest message carrying ``key``, as chat.postMessage would have
        answered; None when there is none or Slack cannot say."""
        try:
            latest = self.conversations_history(channel=channel, limit=20, include_all_metadata=True)
        except (SlackApiError, OSError):
            return None
        for message in latest.get("messages", []):
            if ((message.get("metadata") or {}).get("event_payload") or {}).get("key") == key:
                return SlackResponse(client=self, http_verb="POST", api_url=self.base_url + "chat.postMessage",
                                     req_args={}, data={"ok": True, "channel": channel, "ts": message["ts"],
                                                        "message": message}, headers={}, status_code=200)
        return None


def as_slack_client(client: WebClient) -> SlackClient:
    """The same client (token, workspace, address, retries) as a :class:`SlackClient`: Bolt
    builds a plain WebClient for every request."""
    return SlackClient(token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl,
                       proxy=client.proxy, headers=client.headers, team_id=client.default_params.get("team_id"),
                       logger=client.logger, retry_handlers=client.retry_handlers)
