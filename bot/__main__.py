"""``python -m bot`` / ``competency-bot``: the one entry point, with subcommands."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime, timezone

from bot.config import ConfigError, missing_message
from flows.application import DEFAULT_LANGUAGE
from flows.checklist import DEFAULT_CHECKLIST, LANGUAGES, ChecklistError, get_checklist
from storage.db import SchemaUpgradeFailed
from storage.errors import DatabaseUnavailable


class UsageError(Exception):
    """Bad input on the command line: printed as one line, exit status 2."""


def say(message: str, **params) -> str:
    """One line of the command line's own output, from templates/cli.j2."""
    from bot.render import render

    return render("cli.j2", message, "en", **params)


def _languages(value: str) -> str:
    if value not in LANGUAGES:
        raise argparse.ArgumentTypeError(say("bad_language", choices=LANGUAGES))
    return value


def _moment(value: str) -> datetime:
    """An ISO moment; without a zone it is UTC."""
    from dateutil import parser as date_parser

    try:
        moment = date_parser.isoparse(value)
    except ValueError:
        raise argparse.ArgumentTypeError(say("bad_moment", value=value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="competency-bot",
        description="Walks partner teams through the AWS Retail Competency checklist.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    checklist = commands.add_parser("checklist", help="print the checklist")
    checklist.add_argument("--json", action="store_true", help="machine-readable JSON")
    checklist.add_argument("--lang", type=_languages, default=DEFAULT_LANGUAGE,
                           help=f"{DEFAULT_LANGUAGE} (default) or en")
    checklist.add_argument("--id", default=DEFAULT_CHECKLIST, help="checklist id")

    chat = commands.add_parser("chat", help="walk the checklist in the terminal")
    chat.add_argument("--partner", help="partner name; starts or resumes its application")
    chat.add_argument("--delivery", choices=["saas", "customer_deployed"], help="delivery type (new applications)")
    chat.add_argument("--categories", help="comma-separated category ids (new applications)")
    chat.add_argument("--lang", type=_languages, default=DEFAULT_LANGUAGE,
                      help=f"{DEFAULT_LANGUAGE} (default) or en, for new applications")
    chat.add_argument("--user", default=None, help="who is answering (default: your login name)")
    chat.add_argument("--checklist", default=DEFAULT_CHECKLIST, help="checklist id")

    export = commands.add_parser("export", help="export an application's self-assessment")
    export.add_argument("--partner", required=True, help="partner name")
    export.add_argument("--format", default="md", help="md (default), html, csv, xlsx or json")
    export.add_argument(
        "--output", help="file to write (default: standard output; xlsx: self-assessment-PARTNER.xlsx here)"
    )

    remind = commands.add_parser("remind", help="run one reminder pass now")
    remind.add_argument("--now", type=_moment, help="pretend it is this moment (ISO 8601, e.g. 2027-01-31T09:00+08:00)")
    remind.add_argument("--dry-run", action="store_true", help="print what is due; send and record nothing")

    digest = commands.add_parser("digest", help="the PDM digest of every PDM channel: print it, or post it")
    digest.add_argument("--now", type=_moment, help="pretend it is this moment (ISO 8601, e.g. 2027-01-31T09:00+08:00)")
    shown = digest.add_mutually_exclusive_group()
    shown.add_argument("--print", action="store_true", help="print it here (the default)")
    shown.add_argument("--post", action="store_true",
                       help="post this period's digest to each channel that has not had it (SLACK_BOT_TOKEN)")
    digest.add_argument("--channel", help="only this PDM channel id")

    commands.add_parser("clock", help="run the scheduler: reminder passes (the Procfile's clock: line)")
    commands.add_parser("web", help="serve Slack over HTTP on $PORT (the Procfile's web: line)")
    commands.add_parser("socket", help="connect to Slack in Socket Mode (development)")

    tokens = commands.add_parser("tokens", help="stored Slack tokens")
    tokens.add_argument("action", choices=["rotate"],
                        help="re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEY")

    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current", "backup"],
                    help="upgrade to the newest schema, show it, or back up an SQLite database")
    db.add_argument("path", nargs="?", help="backup: the file to write")
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
        raise UsageError(say("empty_partner"))
    from bot.config import login_user

    user = args.user or login_user() or getpass.getuser()
    return run_chat(
        _database(), checklist, Terminal(), user, partner, args.delivery, categories, args.lang
    )


def cmd_export(args: argparse.Namespace) -> int:
    from bot.exports import FORMATS, export_application
    from flows.export import export_filename

    if args.format not in FORMATS:
        raise UsageError(say("unknown_format", fmt=args.format, formats=FORMATS))
    content = export_application(_database(), args.partner, args.format, datetime.now(timezone.utc))
    if content is None:
        raise UsageError(say("no_partner", partner=args.partner))
    if isinstance(content, str) and not args.output:
        sys.stdout.write(content)
        return 0
    # A spreadsheet is no use on a terminal, so without --output it goes to a file here.
    path = args.output or export_filename(args.partner, args.format)
    try:
        with open(path, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    except OSError as error:
        raise UsageError(say("cannot_write", path=path, reason=error.strerror)) from None
    if not args.output:
        print(path)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.config import database_url
    from storage.db import Database, current_revision, head_revision, upgrade

    database = Database(database_url())
    if args.action == "backup":
        from storage.db import backup_sqlite

        if not args.path:
            raise UsageError(say("backup_needs_path"))
        if not database.is_sqlite:
            raise UsageError(say("backup_needs_sqlite"))
        backup_sqlite(database, args.path)
        print(say("backed_up", path=args.path))
        return 0
    if args.action == "upgrade":
        upgrade(database)
    current = current_revision(database)
    print(say("schema", current=current, newest=head_revision()))
    return 0


def cmd_remind(args: argparse.Namespace) -> int:
    from bot.clock import print_due, reminder_pass

    now = args.now or datetime.now(timezone.utc)
    if args.dry_run:
        print_due(_database(), now)
        return 0
    report = reminder_pass(_database(), now)
    print(say("reminders_done", report=report))
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    from bot.config import DigestSettings
    from bot.digest import pdm_channels, print_digests
    from bot.slack.digest import post_digests_now

    now = args.now or datetime.now(timezone.utc)
    settings = DigestSettings.from_env()
    channels = pdm_channels(_database(), settings, [args.channel] if args.channel else None)
    if args.channel and not channels:
        raise UsageError(say("no_pdm_channel", channel=args.channel))
    if args.post:
        return post_digests_now(_database(), channels, settings, now)
    print_digests(_database(), channels, settings, now)
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    from bot.clock import run_clock

    _logging()
    run_clock(_database())
    return 0


def cmd_tokens(args: argparse.Namespace) -> int:
    from bot.config import token_keys
    from storage.installations import TokenCipher
    from storage.slack import rewrite_tokens

    keys = token_keys()
    if not keys:
        raise ConfigError(missing_message(["TOKEN_ENCRYPTION_KEY"], "tokens rotate"))
    try:
        cipher = TokenCipher(keys)
        changed = rewrite_tokens(_database(), cipher.rotate)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(say("tokens_rotated", count=changed))
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
    from bot.logs import configure_logging

    configure_logging()


def _database():
    from bot.config import database_url
    from storage.db import default_database

    return default_database(database_url())


COMMANDS = {
    "checklist": cmd_checklist, "chat": cmd_chat, "export": cmd_export, "db": cmd_db,
    "web": cmd_web, "socket": cmd_socket, "remind": cmd_remind, "clock": cmd_clock, "tokens": cmd_tokens,
    "digest": cmd_digest,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ChecklistError, UsageError, ConfigError) as error:
        print(say("refused", reason=error), file=sys.stderr)
        return 2
    except DatabaseUnavailable as error:
        print(say("database_unreachable", reason=error.reason), file=sys.stderr)
        return 1
    except SchemaUpgradeFailed:
        print(say("refused", reason=say("schema_upgrade_failed")), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
