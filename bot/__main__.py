"""``python -m bot`` / ``competency-bot``: the one entry point, with subcommands."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
from datetime import datetime, timezone

from bot.config import ConfigError, missing_message
from flows.checklist import DEFAULT_CHECKLIST, LANGUAGES, ChecklistError, get_checklist
from storage.db import SchemaUpgradeFailed
from storage.errors import BackupRefused, DatabaseUnavailable

WA_ANSWERS = "wa-answers"  # the export for the Well-Architected Tool's UpdateAnswer calls


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
    checklist.add_argument("--lang", type=_languages, help="zh or en (default: from LC_ALL / LANG)")
    checklist.add_argument("--id", default=DEFAULT_CHECKLIST, help="checklist id")
    checklist.add_argument("--release", default="", help="one release of it (default: the newest installed)")
    actions = checklist.add_subparsers(dest="checklist_action", metavar="ACTION")
    listing = actions.add_parser("releases", help="every installed checklist release, and the folders they come from")
    diff = actions.add_parser("diff", help="items added, removed and changed between two releases")
    diff.add_argument("old", help="ID@RELEASE, a checklist id (its newest release), or a checklist file")
    diff.add_argument("new", help="ID@RELEASE, a checklist id (its newest release), or a checklist file")
    lens_out = actions.add_parser("export-lens", help="write the checklist as an AWS Well-Architected custom lens")
    lens_out.add_argument("--checklist", default="", help="ID or ID@RELEASE (default: the newest retail release)")
    lens_out.add_argument("--output", required=True, help="the lens JSON file to write")
    lens_out.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    lens_in = actions.add_parser("import-lens", help="install an AWS Well-Architected custom lens as a checklist")
    lens_in.add_argument("lens", help="the lens JSON file")
    lens_in.add_argument("--id", dest="new_id", default="", help="the checklist's id (default: the file's name)")
    lens_in.add_argument("--force", action="store_true", help="replace a checklist imported before with this id")
    for action in (listing, diff, lens_out, lens_in):
        # Also after the action's name; SUPPRESS keeps the value given before it.
        action.add_argument("--lang", type=_languages, default=argparse.SUPPRESS, help="zh or en")

    chat = commands.add_parser("chat", help="walk the checklist in the terminal")
    chat.add_argument("--partner", help="partner name; starts or resumes its application (asked when not given)")
    chat.add_argument("--delivery", help="saas or customer_deployed (asked for a new application when not given)")
    chat.add_argument("--categories", help="comma-separated category ids or numbers (asked when not given)")
    chat.add_argument("--lang", type=_languages, help="zh or en (asked when not given; Enter keeps LC_ALL / LANG's)")
    chat.add_argument("--audit", help="target audit date, YYYY-MM-DD (asked with the other set-up questions)")
    chat.add_argument("--team", help="the Slack workspace id, when the partner has applications in several "
                                     "(\"\" for the one started in the terminal; asked when not given)")
    chat.add_argument("--user", default=None, help="who is answering (default: your login name)")
    chat.add_argument("--checklist", default=DEFAULT_CHECKLIST, help="checklist id")

    commands.add_parser("list", help="every application: partner, workspace, progress, audit date and verdict")

    export = commands.add_parser("export", help="export an application's self-assessment")
    export.add_argument("--partner", required=True, help="partner name")
    export.add_argument("--team", help="the Slack workspace id, when the partner has applications in several "
                                       "(\"\" for the one started in the terminal)")
    export.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    export.add_argument("--release", help="read the answers against an earlier release (its archived items "
                                          "included) rather than the one the application answers now")
    export.add_argument("--format", default="md",
                        help="md (default), html, csv, xlsx, json, or wa-answers (Well-Architected UpdateAnswer calls)")
    export.add_argument(
        "--output", help="file to write (default: standard output; xlsx: self-assessment-PARTNER-ID.xlsx here)"
    )

    upgrade = commands.add_parser("upgrade", help="move an application to a newer release of its checklist")
    upgrade.add_argument("--partner", required=True, help="partner name")
    upgrade.add_argument("--to", required=True, dest="release",
                         help="the release: its version (2.0), ID@RELEASE, or an installed checklist file")
    upgrade.add_argument("--team", help="the Slack workspace id, when the partner has applications in several")
    upgrade.add_argument("--dry-run", action="store_true", help="say what would be kept, reopened and archived")

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

    erase = commands.add_parser("erase", help="erase a Slack workspace's data (after it uninstalled the app)")
    erase.add_argument("--team", required=True, help="the workspace's id (T…)")
    erase.add_argument("--yes", action="store_true", help="really erase: without it, nothing is changed")
    tokens = commands.add_parser("tokens", help="stored Slack tokens")
    tokens.add_argument("action", choices=["rotate"],
                        help="re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEY")

    db = commands.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "current", "backup", "restore"],
                    help="upgrade to the newest schema, show it, or back up an SQLite database")
    db.add_argument("path", nargs="?", help="backup: the file to write; restore: the backup to read")
    return parser


def cmd_checklist(args: argparse.Namespace) -> int:
    from bot.checklist_view import checklist_json, checklist_text
    from bot.config import default_language

    language = args.lang or default_language()
    if args.checklist_action:
        return CHECKLIST_ACTIONS[args.checklist_action](args, language)
    checklist = get_checklist(args.id, args.release)
    if args.json:
        print(json.dumps(checklist_json(checklist, language), ensure_ascii=False, indent=2))
    else:
        print(checklist_text(checklist, language))
    return 0


def cmd_releases(args: argparse.Namespace, language: str) -> int:
    from bot.releases import say as say_release
    from flows.checklist import checklist_ids, installed_folders, releases_of

    releases = [checklist for checklist_id in checklist_ids() for checklist in releases_of(checklist_id)]
    print(say_release("installed", language, releases=releases, folders=installed_folders()))
    return 0


def cmd_diff(args: argparse.Namespace, language: str) -> int:
    from bot.releases import say as say_release
    from flows.checklist import find_release
    from flows.releases import diff

    print(say_release("diff", language, d=diff(find_release(args.old), find_release(args.new))))
    return 0


def cmd_export_lens(args: argparse.Namespace, language: str) -> int:
    from bot.releases import lens_json
    from bot.releases import say as say_release
    from flows.checklist import find_release

    checklist = find_release(args.checklist) if args.checklist else get_checklist(args.id, args.release)
    lens = lens_json(checklist, language)
    _write(args.output, json.dumps(lens, ensure_ascii=False, indent=2) + "\n", args.force)
    print(say_release("lens_written", language, path=args.output, pillars=len(lens["pillars"]),
                      questions=sum(len(p["questions"]) for p in lens["pillars"])))
    return 0


def cmd_import_lens(args: argparse.Namespace, language: str) -> int:
    from pathlib import Path

    from bot.config import checklists_folder
    from bot.releases import install_lens
    from bot.releases import say as say_release

    path, checklist = install_lens(Path(args.lens), args.new_id, checklists_folder(), language, args.force)
    print(say_release("lens_imported", language, path=path, checklist=checklist))
    return 0


CHECKLIST_ACTIONS = {"releases": cmd_releases, "diff": cmd_diff, "export-lens": cmd_export_lens,
                     "import-lens": cmd_import_lens}


def cmd_upgrade(args: argparse.Namespace) -> int:
    from bot.config import default_language
    from bot.releases import say as say_release
    from flows.checklist import find_release
    from storage import walks

    language = default_language()
    database = _database()
    state = _application(database, args.partner, args.team)
    # An application is pinned to installed releases only: a file given by its path must be one.
    new = get_checklist(*find_release(args.release, state.checklist_id).key)
    plan = walks.plan_upgrade(database, state.id, new) if args.dry_run else walks.upgrade(
        database, state.id, new, _operator(), datetime.now(timezone.utc))
    if plan.problem:
        raise UsageError(say_release("upgrade_refused", language, plan=plan))
    print(say_release("upgrade_plan", language, plan=plan))
    if not args.dry_run:
        print(say_release("upgraded", language, plan=plan))
    return 0


def _operator() -> str:
    from bot.config import login_user

    return login_user() or getpass.getuser()


def _application(database, partner: str, team: str | None):
    from storage import walks
    from storage.errors import PartnerInSeveralWorkspaces

    try:
        state = walks.find(database, partner, team)
    except PartnerInSeveralWorkspaces as several:
        raise UsageError(say("several_workspaces", partner=partner, teams=several.teams)) from None
    if state is None:
        raise UsageError(say("no_partner", partner=partner, database=database.shown))
    return state


def _write(path: str, content: str | bytes, force: bool) -> None:
    try:
        # "x": an existing file (an earlier export, anyone's file) is kept unless --force.
        with open(path, "wb" if force else "xb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
    except FileExistsError:
        raise UsageError(say("file_exists", path=path)) from None
    except OSError as error:
        raise UsageError(say("cannot_write", path=path, reason=error.strerror)) from None


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.config import default_language
    from bot.render import render
    from bot.terminal import Terminal, run_chat
    from flows.application import partner_problem
    from flows.settings import SettingProblem, parse_value

    checklist = get_checklist(args.checklist)
    language = args.lang or default_language()
    flags = {"language": args.lang, "delivery_type": args.delivery, "categories": args.categories,
             "target_audit_date": args.audit}
    given = {}
    for setting, text in flags.items():
        if text is None:
            continue
        try:
            given[setting] = parse_value(setting, text, checklist, datetime.now(timezone.utc).date())
        except SettingProblem as problem:
            raise UsageError(render("walk.j2", "setting_problem", language, problem=problem,
                                    checklist=checklist)) from None
    partner = args.partner.strip() if args.partner is not None else None
    if partner is not None and (problem := partner_problem(partner)):
        raise UsageError(render("setup.j2", f"partner_{problem}", language))
    from bot.config import login_user

    user = args.user or login_user() or getpass.getuser()
    return run_chat(_database(), checklist, Terminal(), user, partner, given, language, args.team)


def cmd_list(args: argparse.Namespace) -> int:
    from flows.evidence import local_today
    from flows.readiness import readiness
    from storage import walks

    database = _database()
    now = datetime.now(timezone.utc)
    listed = walks.every_application(database)
    rows = [(entry, readiness(get_checklist(*entry.state.release_key), entry.state, entry.case_studies,
                              entry.documents, local_today(now, entry.state.timezone))) for entry in listed]
    print(say("application_list", rows=rows, database=database.shown))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from bot.exports import FORMATS, render_export
    from flows.export import export_filename

    formats = (*FORMATS, WA_ANSWERS)
    if args.format not in formats:
        raise UsageError(say("unknown_format", fmt=args.format, formats=formats))
    database = _database()
    state = _application(database, args.partner, args.team)
    if args.release:
        from dataclasses import replace

        state = replace(state, checklist_release=get_checklist(state.checklist_id, args.release).release)
    now = datetime.now(timezone.utc)
    if args.format == WA_ANSWERS:
        from bot.releases import wa_answers_json
        from flows.evidence import local_today

        content = wa_answers_json(get_checklist(*state.release_key), state, local_today(now, state.timezone))
    else:
        content = render_export(database, state, args.format, now)
    if isinstance(content, str) and not args.output:
        sys.stdout.write(content)
        return 0
    # A spreadsheet is no use on a terminal, so without --output it goes to a file here.
    path = args.output or export_filename(state.partner, state.id, args.format)
    _write(path, content, args.force)
    if not args.output:
        print(path)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.config import database_url
    from storage.db import Database, current_revision, head_revision, upgrade

    database = Database(database_url())
    if args.action in ("backup", "restore"):
        from storage.db import backup_sqlite, restore_sqlite

        if not args.path:
            raise UsageError(say(f"{args.action}_needs_path"))
        if not database.is_sqlite:
            raise UsageError(say(f"{args.action}_needs_sqlite"))
        (backup_sqlite if args.action == "backup" else restore_sqlite)(database, args.path)
        print(say("backed_up" if args.action == "backup" else "restored", path=args.path))
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
    report, (asked, failed) = reminder_pass(_database(), now)
    print(say("reminders_done", report=report, asked=asked, asked_failed=failed))
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
    if not channels:
        print(say("no_digest"))
        return 0
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


def cmd_erase(args: argparse.Namespace) -> int:
    from storage.slack import erase_workspace

    if not args.yes:
        raise UsageError(say("erase_needs_yes", team=args.team))
    print(say("erased", team=args.team, count=erase_workspace(_database(), args.team)))
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
    "checklist": cmd_checklist, "chat": cmd_chat, "list": cmd_list, "export": cmd_export, "db": cmd_db,
    "web": cmd_web, "socket": cmd_socket, "remind": cmd_remind, "clock": cmd_clock, "tokens": cmd_tokens,
    "erase": cmd_erase, "upgrade": cmd_upgrade,
    "digest": cmd_digest,
}


def main(argv: list[str] | None = None) -> int:
    from bot.config import checklists_folder
    from bot.releases import ReleaseRefused, checklist_problem
    from flows.checklist import use_folders

    args = build_parser().parse_args(argv)
    try:
        use_folders(checklists_folder())
        return COMMANDS[args.command](args)
    except ChecklistError as error:
        from bot.config import default_language

        print(say("refused", reason=checklist_problem(error, default_language())), file=sys.stderr)
        return 2
    except (UsageError, ConfigError, ReleaseRefused) as error:
        print(say("refused", reason=error), file=sys.stderr)
        return 2
    except DatabaseUnavailable as error:
        print(say("database_unreachable", reason=error.reason), file=sys.stderr)
        return 1
    except BackupRefused as error:
        print(say("refused", reason=error.reason), file=sys.stderr)
        return 1
    except SchemaUpgradeFailed:
        print(say("refused", reason=say("schema_upgrade_failed")), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as a program killed by SIGPIPE
        # does. Standard output now points at nothing, so the interpreter's own last
        # flush cannot fail and print a second traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
