"""Slack listeners for the walk: /competency, item buttons, modals, thread and DM replies.

Every listener stores what it must, then calls ``ack()``, then makes its Web API calls
(Bolt answers Slack as soon as ``ack()`` is called; the rest of the listener runs on).
No conversation state lives in this process: everything is read from the database.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, datetime, timezone

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import IntegrityError

from bot.exports import render_export
from bot.render import render
from bot.slack import blocks
from bot.slack.commands import CommandRequest, CommandRouter, slack_text
from flows.application import MAX_TEXT, ApplicationState, new_application_problems
from flows.checklist import DEFAULT_CHECKLIST, get_checklist
from flows.evidence import DateProblem, local_today
from flows.export import export_filename
from flows.walk import Message, evidence_form_problems, status_message
from storage import slack as slack_store
from storage import walks
from storage.db import Database

log = logging.getLogger(__name__)
USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
ANSWER_ACTIONS = re.compile(r"^walk_(met|not_met|not_applicable|skip|back)$")
ACTION_WORDS = {"met": "yes", "not_met": "no", "not_applicable": "na", "skip": "skip", "back": "back"}
UPLOAD_FORMATS = ("md", "html", "csv", "xlsx")  # json is for programs, not for a channel


def now() -> datetime:
    return datetime.now(timezone.utc)


def say_text(messages: list[Message], language: str) -> str:
    return "\n\n".join(render("walk.j2", m.name, language, style="slack", **m.params) for m in messages)


def call(client: WebClient, method: str, **params) -> dict | None:
    """A Web API call after the acknowledgement: failures are logged, never raised to Slack."""
    try:
        return getattr(client, method)(**params).data
    except SlackApiError as error:
        log.warning("slack %s failed: %s", method, error.response.get("error"))
    except Exception as error:  # noqa: BLE001 - a network failure must not lose the stored answer
        log.warning("slack %s failed: %s", method, type(error).__name__)
    return None


class WalkService:
    """What the listeners do, as plain methods over the database and a Web API client."""

    def __init__(self, db: Database):
        self.db = db

    def post_item(self, client: WebClient, team_id: str, channel: str, state: ApplicationState,
                  item_id: str | None, thread_ts: str | None = None, intro: str = "") -> None:
        checklist = get_checklist(state.checklist_id)
        item = checklist.item(item_id) if item_id else None
        if item is None:
            if intro:
                call(client, "chat_postMessage", channel=channel, text=intro, thread_ts=thread_ts)
            return
        item_blocks = blocks.item_blocks(checklist, state, item)
        if intro:
            item_blocks = [blocks.section(chunk) for chunk in blocks.fold(intro)] + item_blocks
        posted = call(client, "chat_postMessage", channel=channel, thread_ts=thread_ts,
                      text=f"{item.id} {item.title(state.language)}", blocks=item_blocks[: blocks.MESSAGE_BLOCKS])
        if posted and posted.get("ts") and not thread_ts:
            slack_store.remember_item_message(self.db, team_id, posted.get("channel", channel), posted["ts"],
                                              state.id, item.id)

    def sync_members(self, client: WebClient, team_id: str, channel: str) -> None:
        members: list[str] = []
        cursor = None
        while True:
            page = call(client, "conversations_members", channel=channel, cursor=cursor, limit=500)
            if page is None:
                return
            members += page.get("members", [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        slack_store.replace_members(self.db, team_id, channel, members, now())

    def applications_of_user(self, team_id: str, user: str) -> list[ApplicationState]:
        channels = sorted(set(slack_store.channels_of(self.db, team_id, user)))
        return [state for channel in channels for state in walks.in_channel(self.db, team_id, channel)]

    def may_change(self, team_id: str, state: ApplicationState, user: str) -> bool:
        return slack_store.may_change(self.db, team_id, state.id, user)


def register(app: App, db: Database, router: CommandRouter) -> None:
    service = WalkService(db)

    # -- /competency ----------------------------------------------------------

    def help_command(request: CommandRequest) -> None:
        request.ack(slack_text("help", request.language))

    def start_command(request: CommandRequest) -> None:
        request.ack()
        checklist = get_checklist(DEFAULT_CHECKLIST)
        call(request.client, "views_open", trigger_id=request.body["trigger_id"],
             view=blocks.start_modal(checklist, request.channel, request.language))

    def status_command(request: CommandRequest) -> None:
        request.ack(status_text(request.state))

    def next_command(request: CommandRequest) -> None:
        request.ack()
        outcome = walks.resume(db, request.state.id, request.user, now())
        service.post_item(request.client, request.team_id, request.channel, outcome.state, outcome.state.cursor)

    def goto_command(request: CommandRequest) -> None:
        outcome = walks.step(db, request.state.id, f"goto {request.rest}", request.user, now())
        if any(m.name == "item" for m in outcome.messages):
            request.ack()
            service.post_item(request.client, request.team_id, request.channel, outcome.state, outcome.state.cursor)
            return
        request.ack(say_text(outcome.messages, request.language))

    def assign_command(request: CommandRequest) -> None:
        mention = USER_MENTION.search(request.rest)
        item_id = request.rest.split()[0] if request.rest.split() else ""
        if not mention or not item_id:
            request.ack(slack_text("assign_usage", request.language))
            return
        assignee = mention.group(1)
        outcome = walks.assign(db, request.state.id, item_id, assignee, request.user, now())
        request.ack(say_text(outcome.messages, request.language))
        item = get_checklist(outcome.state.checklist_id).item(item_id)
        if item is not None and outcome.state.answer(item.id).assignee == assignee:
            opened = call(request.client, "conversations_open", users=assignee)
            dm = (opened or {}).get("channel", {}).get("id", assignee)
            service.post_item(request.client, request.team_id, dm, outcome.state, item.id,
                              intro=slack_text("assigned_dm", request.language, item=item, who=request.user))

    def export_command(request: CommandRequest) -> None:
        fmt = request.rest.lower() or "md"
        if fmt not in UPLOAD_FORMATS:
            request.ack(slack_text("export_usage", request.language, formats=UPLOAD_FORMATS))
            return
        request.ack()
        state = request.state
        content = render_export(db, state, fmt, now())
        call(request.client, "files_upload_v2", channel=request.channel, content=content,
             filename=export_filename(state.partner, fmt), title=state.partner,
             initial_comment=slack_text("export_comment", request.language, partner=state.partner))

    router.add(("help", "帮助"), help_command, needs_application=False, members_only=False)
    router.add(("start",), start_command, needs_application=False, members_only=False)
    router.add(("status", "进度"), status_command, members_only=False)
    router.add(("next",), next_command)
    router.add(("goto", "跳到"), goto_command)
    router.add(("assign", "分配"), assign_command)
    router.add(("export", "导出"), export_command)

    # -- start modal ------------------------------------------------------------

    @app.view("start_modal")
    def start_submitted(ack, body, view, client):  # noqa: ANN001
        values = view["state"]["values"]
        metadata = json.loads(view.get("private_metadata") or "{}")
        team_id = body["team"]["id"] if body.get("team") else body["user"].get("team_id", "")
        user = body["user"]["id"]
        channel = metadata.get("c", "")
        partner = (values["partner"]["value"].get("value") or "").strip()
        categories = tuple(o["value"] for o in values["categories"]["value"].get("selected_options") or [])
        delivery = (values["delivery"]["value"].get("selected_option") or {}).get("value")
        language = (values["language"]["value"].get("selected_option") or {}).get("value") or "zh"
        audit = values["audit_date"]["value"].get("selected_date")
        problems = new_application_problems(partner, delivery, categories, get_checklist(DEFAULT_CHECKLIST))
        if not problems and walks.find(db, partner, team_id) is not None:
            problems["partner"] = "partner_exists"
        errors = {field: slack_text("field_error", language, code=code) for field, code in problems.items()}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        state = ApplicationState(
            partner=partner, delivery_type=delivery, checklist_id=DEFAULT_CHECKLIST, categories=categories,
            language=language, target_audit_date=date.fromisoformat(audit) if audit else None,
        )
        try:
            state = walks.start(db, state, user, now(), team_id=team_id, channel_id=channel)
        except IntegrityError:
            ack(response_action="errors",
                errors={"partner": slack_text("field_error", language, code="partner_exists")})
            return
        ack()
        service.sync_members(client, team_id, channel)
        outcome = walks.resume(db, state.id, user, now())
        service.post_item(client, team_id, channel, outcome.state, outcome.state.cursor,
                          intro=slack_text("started", language, partner=partner, who=user))

    # -- item buttons -----------------------------------------------------------

    @app.action(ANSWER_ACTIONS)
    def answer_button(ack, body, action, client):  # noqa: ANN001
        team_id, user = body["team"]["id"], body["user"]["id"]
        application_id, item_id = blocks.parse_item_value(action["value"])
        key = f"action:{team_id}:{user}:{action['action_ts']}:{action['action_id']}:{action['value']}"
        word = ACTION_WORDS[ANSWER_ACTIONS.match(action["action_id"]).group(1)]
        try:
            outcome = walks.answer_from_slack(db, application_id, item_id, word, user, team_id, key, now())
        except walks.NotAllowed as refused:
            ack()
            call(client, "chat_postEphemeral", channel=body["channel"]["id"], user=user,
                 text=slack_text("not_member", refused.language))
            return
        if outcome is None:  # a delivery already applied
            ack()
            return
        ack()
        channel = body["channel"]["id"]
        checklist = get_checklist(outcome.state.checklist_id)
        item = checklist.item(item_id)
        message = body.get("message") or {}
        if word != "back" and item is not None and message.get("ts"):
            call(client, "chat_update", channel=channel, ts=message["ts"],
                 text=f"{item.id} {item.title(outcome.state.language)}",
                 blocks=blocks.item_blocks(checklist, outcome.state, item))
        notes = [m for m in outcome.messages if m.name not in ("item", "saved", "finished")]
        intro = say_text(notes, outcome.state.language)
        if outcome.state.finished or outcome.state.cursor is None:
            call(client, "chat_postMessage", channel=channel,
                 text=say_text([m for m in outcome.messages if m.name == "finished"], outcome.state.language))
            return
        service.post_item(client, team_id, channel, outcome.state, outcome.state.cursor, intro=intro)

    # -- evidence modal --------------------------------------------------------

    @app.action("walk_evidence")
    def evidence_button(ack, body, action, client):  # noqa: ANN001
        ack()
        team_id, user = body["team"]["id"], body["user"]["id"]
        application_id, item_id = blocks.parse_item_value(action["value"])
        state = walks.load(db, application_id)
        if not service.may_change(team_id, state, user):
            call(client, "chat_postEphemeral", channel=body["channel"]["id"], user=user,
                 text=slack_text("not_member", state.language))
            return
        item = get_checklist(state.checklist_id).item(item_id)
        metadata = {"a": application_id, "i": item_id, "c": body["channel"]["id"],
                    "ts": (body.get("message") or {}).get("ts", "")}
        call(client, "views_open", trigger_id=body["trigger_id"], view=blocks.evidence_modal(item, state, metadata))

    @app.view("evidence_modal")
    def evidence_submitted(ack, body, view, client):  # noqa: ANN001
        metadata = json.loads(view.get("private_metadata") or "{}")
        team_id, user = body["team"]["id"], body["user"]["id"]
        application_id, item_id = int(metadata["a"]), metadata["i"]
        state = walks.load(db, application_id)
        language = state.language
        if not service.may_change(team_id, state, user):
            ack(response_action="errors", errors={"link": slack_text("not_member", language)})
            return
        values = view["state"]["values"]
        link = (values["link"]["value"].get("value") or "").strip()
        date_text = (values.get("evidence_date", {}).get("value", {}).get("selected_date") or "")
        note = ((values.get("note", {}).get("value", {}) or {}).get("value") or "").strip()
        item = get_checklist(state.checklist_id).item(item_id)
        errors = {field: slack_text("field_error", language, code=code)
                  for field, code in evidence_form_problems(item, link, date_text, note).items()}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        result = walks.record_evidence(db, application_id, item_id, link, date_text, note, user, now())
        if isinstance(result, DateProblem):
            ack(response_action="errors",
                errors={"evidence_date": slack_text("field_error", language, code=result.reason)})
            return
        ack()
        checklist = get_checklist(result.state.checklist_id)
        if metadata.get("ts"):
            call(client, "chat_update", channel=metadata["c"], ts=metadata["ts"],
                 text=f"{item.id} {item.title(language)}", blocks=blocks.item_blocks(checklist, result.state, item))
        call(client, "chat_postMessage", channel=metadata["c"], thread_ts=metadata.get("ts") or None,
             text=say_text(result.messages, language))

    # -- typed words: item threads and DMs -------------------------------------

    @app.event("message")
    def message(event, body, client, context):  # noqa: ANN001
        if event.get("subtype") or event.get("bot_id"):
            return
        team_id = body.get("team_id") or context.get("team_id") or ""
        user, channel, text = event.get("user", ""), event.get("channel", ""), event.get("text") or ""
        if not slack_store.first_delivery(db, f"event:{body.get('event_id')}", now()):
            return
        if event.get("channel_type") == "im":
            on_direct_message(client, team_id, user, channel, text)
            return
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == event.get("ts"):
            return
        target = slack_store.item_message(db, team_id, channel, thread_ts)
        if target is None:
            return
        state = walks.load(db, target.application_id)
        if not service.may_change(team_id, state, user):
            call(client, "chat_postEphemeral", channel=channel, user=user, thread_ts=thread_ts,
                 text=slack_text("not_member", state.language))
            return
        reply_to_item(client, team_id, channel, thread_ts, target.application_id, target.item_id, user, text)

    def reply_to_item(client, team_id, channel, thread_ts, application_id, item_id, user, text):  # noqa: ANN001
        if len(text) > MAX_TEXT:
            outcome = walks.step(db, application_id, text, user, now())
        else:
            outcome = walks.on_item(db, application_id, item_id, _thread_line(text), user, now())
        state = outcome.state
        replies = [m for m in outcome.messages if m.name != "item"]
        call(client, "chat_postMessage", channel=channel, thread_ts=thread_ts,
             text=say_text(replies, state.language) or "…")
        checklist = get_checklist(state.checklist_id)
        item = checklist.item(item_id)
        if item is not None:
            call(client, "chat_update", channel=channel, ts=thread_ts, text=f"{item.id} {item.title(state.language)}",
                 blocks=blocks.item_blocks(checklist, state, item))
        if any(m.name == "item" for m in outcome.messages) and state.cursor:
            service.post_item(client, team_id, channel, state, state.cursor)

    def on_direct_message(client, team_id, user, channel, text):  # noqa: ANN001
        candidates = service.applications_of_user(team_id, user)
        if not candidates:
            call(client, "chat_postMessage", channel=channel, text=slack_text("no_dm_application", "zh"))
            return
        if len(candidates) > 1:
            buttons = [{"type": "button", "action_id": f"dm_pick_{s.id}", "text": blocks.plain(s.partner),
                        "value": json.dumps({"a": s.id, "t": text[:1900]})} for s in candidates[:25]]
            call(client, "chat_postMessage", channel=channel, text=slack_text("which_application", "zh"),
                 blocks=[blocks.section(slack_text("which_application", candidates[0].language)),
                         {"type": "actions", "elements": buttons[:25]}])
            return
        direct_step(client, team_id, user, channel, candidates[0], text)

    def direct_step(client, team_id, user, channel, state, text):  # noqa: ANN001
        outcome = walks.step(db, state.id, text, user, now())
        replies = [m for m in outcome.messages if m.name != "item"]
        if replies:
            call(client, "chat_postMessage", channel=channel, text=say_text(replies, outcome.state.language))
        if any(m.name == "item" for m in outcome.messages) and outcome.state.cursor:
            service.post_item(client, team_id, channel, outcome.state, outcome.state.cursor)

    @app.action(re.compile(r"^dm_pick_\d+$"))
    def dm_pick(ack, body, action, client):  # noqa: ANN001
        ack()
        team_id, user = body["team"]["id"], body["user"]["id"]
        choice = json.loads(action["value"])
        state = walks.load(db, int(choice["a"]))
        if not service.may_change(team_id, state, user):
            call(client, "chat_postMessage", channel=body["channel"]["id"], text=slack_text("not_member", state.language))
            return
        direct_step(client, team_id, user, body["channel"]["id"], state, choice["t"])

    # -- channel membership ----------------------------------------------------

    @app.event("member_joined_channel")
    def joined(event, body):  # noqa: ANN001
        slack_store.member_joined(db, body.get("team_id", ""), event["channel"], event["user"])

    @app.event("member_left_channel")
    def left(event, body):  # noqa: ANN001
        slack_store.member_left(db, body.get("team_id", ""), event["channel"], event["user"])


def status_text(state: ApplicationState) -> str:
    checklist = get_checklist(state.checklist_id)
    today = local_today(now(), state.timezone)
    message = status_message(checklist, state, today, checklist.item(state.cursor) if state.cursor else None)
    return render("walk.j2", message.name, state.language, style="slack", **message.params)


def _thread_line(text: str) -> str:
    """In an item's thread, a bare link is evidence for that item."""
    stripped = text.strip()
    if re.fullmatch(r"<https?://[^>\s]+>", stripped):
        return "evidence " + stripped.strip("<>").split("|")[0]
    return stripped
