"""``python -m bot`` / ``competency-bot``: the one entry point, with subcommands."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from datetime import datetime, timezone

from sqlalchemy.exc import OperationalError

from bot.config import ConfigError
from flows.checklist import DEFAULT_CHECKLIST, LANGUAGES, ChecklistError, get_checklist


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit status 2."""


def _languages(value: str) -> str:
    if value not in LANGUAGES:
        raise argparse.ArgumentTypeError(f"language must be one of {', '.join(LANGUAGES)}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="competency-bot",
        description="Walks partner teams through the AWS Retail Competency checklist.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    checklist = commands.add_parser("checklist", help="print the checklist")
    checklist.add_argument("--json", action="store_true", help="machine-readable JSON")
    checklist.add_argument("--lang", type=_languages, default="zh", help="zh (default) or en")
    checklist.add_argument("--id", default=DEFAULT_CHECKLIST, help="checklist id")

    chat = commands.add_parser("chat", help="walk the checklist in the terminal")
    chat.add_argument("--partner", help="partner name; starts or resumes its application")
    chat.add_argument("--delivery", choices=["saas", "customer_deployed"], help="delivery type (new applications)")
    chat.add_argument("--categories", help="comma-separated category ids (new applications)")
    chat.add_argument("--lang", type=_languages, default="zh", help="zh (default) or en, for new applications")
    chat.add_argument("--user", default=None, help="who is answering (default: your login name)")
    chat.add_argument("--checklist", default=DEFAULT_CHECKLIST, help="checklist id")

    export = commands.add_parser("export", help="export an application's self-assessment")
    export.add_argument("--partner", required=True, help="partner name")
    export.add_argument("--format", choices=["json", "md"], default="md")
    export.add_argument("--output", help="file to write (default: standard output)")

    commands.add_parser("web", help="serve Slack over HTTP on $PORT (the Procfile's web: line)")
    commands.add_parser("socket", help="connect to Slack in Socket Mode (development)")

    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current"], help="upgrade to the newest schema, or show it")
    return parser


def cmd_checklist(args: argparse.Namespace) -> int:
    from bot.checklist_view import checklist_json, checklist_text

    checklist = get_checklist(args.id)
    if args.json:
        print(json.dumps(checklist_json(checklist, args.lang), ensure_ascii=False, indent=2))
    else:
        print(checklist_text(checklist, args.lang))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.terminal import Terminal, parse_categories, run_chat

    checklist = get_checklist(args.checklist)
    categories = None
    if args.categories:
        try:
            categories = parse_categories(args.categories, checklist, args.lang)
        except ValueError as error:
            raise UsageError(str(error)) from None
    partner = args.partner.strip() if args.partner else None
    if args.partner is not None and not partner:
        raise UsageError("--partner cannot be empty")
    user = args.user or os.environ.get("USER") or getpass.getuser()
    return run_chat(
        _database(), checklist, Terminal(), user, partner, args.delivery, categories, args.lang
    )


def cmd_export(args: argparse.Namespace) -> int:
    from bot.exports import export_application

    text = export_application(_database(), args.partner, args.format, datetime.now(timezone.utc))
    if text is None:
        raise UsageError(f"no application for partner '{args.partner}'")
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from storage.db import Database, current_revision, head_revision, upgrade

    database = Database()
    if args.action == "upgrade":
        upgrade(database.engine)
    current = current_revision(database.engine)
    print(f"database schema: {current or 'empty'} (newest: {head_revision(database.engine)})")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from bot.config import SlackSettings
    from bot.slack.server import serve_http

    settings = SlackSettings.from_env("web")
    _logging()
    serve_http(settings, _database())
    return 0


def cmd_socket(args: argparse.Namespace) -> int:
    from bot.config import SlackSettings
    from bot.slack.server import serve_socket_mode

    settings = SlackSettings.from_env("socket")
    _logging()
    serve_socket_mode(settings, _database())
    return 0


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _database():
    from storage.db import default_database

    return default_database()


COMMANDS = {
    "checklist": cmd_checklist, "chat": cmd_chat, "export": cmd_export, "db": cmd_db,
    "web": cmd_web, "socket": cmd_socket,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ChecklistError, UsageError, ConfigError) as error:
        print(f"competency-bot: {error}", file=sys.stderr)
        return 2
    except OperationalError as error:
        print(f"competency-bot: cannot use the database: {error.orig}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
