"""The application states this process read or wrote last, each with the version it is.

Every stored change of an application increments ``applications.version`` and sets its
``updated_at`` (:mod:`storage.applications`), so a state known at the version and update
time the application still has is the state stored. A press reads the application's row
anyway (:func:`storage.slack.membership`); when it names the version known here, its
answers are not read again, which was most of a press's cost on a walk's later items.
Keyed by update time as well as version: a restored backup can bring a version back,
never with the same update time and other content. Per process and per database; a
state another process wrote is read from the database, as before. Each
:class:`storage.db.Database` holds its own (``Database.known_states``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from flows.application import ApplicationState

# Applications remembered per process: the ones being walked now. A state with every
# item answered and evidenced takes about 26 KiB, so at most about 3 MiB.
SIZE = 128


@dataclass(frozen=True)
class KnownState:
    version: int
    updated_at: datetime
    state: ApplicationState
    channel_id: str  # set when the application is created, never changed


class KnownStates:
    """The last :data:`SIZE` states used, by application id; safe across threads."""

    def __init__(self, size: int = SIZE):
        self._size = size
        self._states: OrderedDict[int, KnownState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, application_id: int) -> KnownState | None:
        with self._lock:
            found = self._states.get(application_id)
            if found is not None:
                self._states.move_to_end(application_id)
            return found

    def remember(self, state: ApplicationState, version: int, updated_at: datetime, channel_id: str) -> None:
        with self._lock:
            self._states[state.id] = KnownState(version, updated_at, state, channel_id)
            self._states.move_to_end(state.id)
            if len(self._states) > self._size:
                self._states.popitem(last=False)
