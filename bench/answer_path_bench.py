"""Benchmark: the step of an answer before Slack's acknowledgement, in one process.

    .venv/bin/python bench/answer_path_bench.py [--postgres URL] [--rounds 300]

What a button press does before ``ack()`` (the membership check, which reads the state,
then the claim and the write) is run directly against PostgreSQL (TEST_DATABASE_URL or
--postgres), without HTTP or Slack, so that two things can be seen apart from the server:

* **Round trips to the database**, counted in libpq's own protocol trace (each Sync or
  simple Query message the client sends is one round trip, the pool's checks included).
* **The last item costs what the first does**: presses on an application's first item
  and on its second-to-last item (every other item answered), interleaved, median over
  the rounds. The last item itself is left out: it finishes the walk, which says more.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import fresh_database, header
from flows.application import ApplicationState
from flows.checklist import get_checklist
from storage import slack as slack_store
from storage import walks

TEAM, USER = "TBENCH", "UBENCH"
# A message the client sends that waits for the server's answer: one round trip each.
ROUND_TRIP_MESSAGES = re.compile(r"\tF\t\d+\t(?:Sync|Query)\b")


def press(db, application_id: int, item_id: str, key: str, now: datetime) -> None:
    """What the answer listener and its middleware do before ``ack()``: the write checks
    the membership itself when this process knows the application."""
    found = (slack_store.presumed_membership(db, TEAM, application_id, USER)
             or slack_store.membership(db, TEAM, application_id, USER))
    assert found is not None and found.may_change
    walks.answer_from_slack(db, found, item_id, "yes", key, now)


def round_trips(db, application_id: int, item_id: str, key: str, now: datetime) -> int:
    """Round trips of one press, from libpq's trace of every connection it checks out."""
    with tempfile.NamedTemporaryFile("w+") as trace:
        def traced(dbapi_connection, _record, _proxy) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())

        event.listen(db.engine, "checkout", traced)
        try:
            press(db, application_id, item_id, key, now)
        finally:
            event.remove(db.engine, "checkout", traced)
        db.engine.dispose()  # untraced connections from here on
        trace.seek(0)
        return len(ROUND_TRIP_MESSAGES.findall(trace.read()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    if not args.postgres:
        parser.error("needs PostgreSQL: --postgres URL or TEST_DATABASE_URL")
    db = fresh_database(args.postgres)
    now = datetime.now(timezone.utc)
    items = [item.id for item in get_checklist().applicable_items("saas") if not item.derived_from]
    first, late = (
        walks.start(db, ApplicationState(partner=name, delivery_type="saas", checklist_id="aws-retail-competency",
                                         language="en"), USER, now, team_id=TEAM, channel_id=f"C{name}").id
        for name in ("First", "Late"))
    for name in ("First", "Late"):
        slack_store.replace_members(db, TEAM, f"C{name}", [USER], now)
    for item_id in items[:-2]:
        press(db, late, item_id, f"seed:{item_id}", now)

    print(header(f"the answer path before the acknowledgement, {args.rounds} rounds"))
    print()
    print("| press | round trips to PostgreSQL before ack |")
    print("|---|---|")
    print(f"| on the first item | {round_trips(db, first, items[0], 'trace:first', now)} |")
    print(f"| on the second-to-last item ({len(items) - 2} answered) | "
          f"{round_trips(db, late, items[-2], 'trace:late', now)} |")

    timings: dict[str, list[float]] = {"first": [], "late": []}
    cpu: dict[str, list[float]] = {"first": [], "late": []}
    for n in range(args.rounds):  # interleaved, so that the machine's noise falls on both alike
        for name, application_id, item_id in (("first", first, items[0]), ("late", late, items[-2])):
            started, cpu_started = time.perf_counter(), time.thread_time()
            press(db, application_id, item_id, f"{name}:{n}", now)
            timings[name].append(time.perf_counter() - started)
            cpu[name].append(time.thread_time() - cpu_started)
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    cpu_medians = {name: statistics.median(values) * 1000 for name, values in cpu.items()}
    print()
    print("| press | median ms | median CPU ms | late ÷ first |")
    print("|---|---|---|---|")
    print(f"| on the first item | {medians['first']:.2f} | {cpu_medians['first']:.2f} | |")
    print(f"| on the second-to-last item | {medians['late']:.2f} | {cpu_medians['late']:.2f} | "
          f"{medians['late'] / medians['first']:.2f} |")
    db.engine.dispose()


if __name__ == "__main__":
    main()
