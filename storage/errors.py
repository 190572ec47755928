"""Storage's own exceptions: nothing outside ``storage/`` catches SQLAlchemy's."""

from __future__ import annotations


class StorageError(Exception):
    """Base of the exceptions storage raises on purpose."""


class ApplicationNotFound(StorageError, LookupError):
    """No application with that id."""


class CaseStudyNotFound(StorageError, LookupError):
    """No case study with that id in that application."""


class PartnerExists(StorageError):
    """The workspace already has an application for this partner (names compared
    case- and space-insensitively): raised instead of the unique constraint's error."""


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or refused the operation (SQLAlchemy's
    OperationalError, translated by every engine :mod:`storage.db` makes). ``reason`` is
    the driver's error."""

    def __init__(self, reason: object):
        super().__init__(str(reason))
        self.reason = reason
