"""Storage's own exceptions: nothing outside ``storage/`` catches SQLAlchemy's."""

from __future__ import annotations


class StorageError(Exception):
    """Base of the exceptions storage raises on purpose."""


class ApplicationNotFound(StorageError, LookupError):
    """No application with that id."""


class CaseStudyNotFound(StorageError, LookupError):
    """No case study with that id in that application."""


class MembershipNotConfirmed(StorageError):
    """A press on a presumed membership (:func:`storage.slack.presumed_membership`) was
    not written: the user may not change the application (not a member of its channel,
    as last read, in its workspace). The caller checks the membership as for any request,
    which may read the channel's members again."""


class PartnerExists(StorageError):
    """The workspace already has an application for this partner (names compared
    case- and space-insensitively): raised instead of the unique constraint's error."""


class PartnerInSeveralWorkspaces(StorageError, LookupError):
    """A partner looked up in any workspace has applications in several: ``teams`` are
    their workspace ids, oldest application first ("" for one started in the terminal)."""

    def __init__(self, partner: str, teams: tuple[str, ...]):
        super().__init__(f"{partner!r} has applications in several workspaces: {', '.join(teams)}")
        self.partner, self.teams = partner, teams


class BackupRefused(StorageError):
    """A backup could not be written, or a file offered for restore is not a backup of
    the bot: ``reason`` says which, in one line."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class TokenKeyMismatch(StorageError, ValueError):
    """A stored Slack token cannot be decrypted with any key of ``TOKEN_ENCRYPTION_KEY``
    (the key was changed without ``tokens rotate``). The message names the keys tried by
    fingerprint, never the keys themselves."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or refused the operation (SQLAlchemy's
    OperationalError, translated by every engine :mod:`storage.db` makes). ``reason`` is
    the driver's error."""

    def __init__(self, reason: object):
        super().__init__(str(reason))
        self.reason = reason
