"""What the ``lvzhi`` commands share: their exit codes and the configured database, opened for one command.

A command does its work inside ``async with command_database(settings) as db``; a database without tables
(``lvzhi db upgrade`` never ran) ends it with one line on stderr and exit code 2 instead of a traceback, and
the database is disposed either way. :func:`failing_politely` makes that (and any :class:`CommandFailed`
a command raises) the command's return value, so tests and ``main`` see the same exit codes.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.domain.audit import acting_through
from bot.infra.config import Settings
from bot.infra.db import Database
from models.audit import Channel

EXIT_OK, EXIT_NOT_FOUND, EXIT_BAD = 0, 1, 2
NO_SCHEMA = "the database has no schema yet: run `lvzhi db upgrade` first"

Command = Callable[..., Awaitable[int]]


class CommandFailed(Exception):
    """One line for stderr and the exit code it means."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


@asynccontextmanager
async def command_database(settings: Settings, *, no_schema: str = NO_SCHEMA) -> AsyncIterator[Database]:
    db = Database(settings.database.url)
    try:
        with acting_through(Channel.CLI):  # what a command changes is audited as the CLI's
            yield db
    except (OperationalError, ProgrammingError) as exc:  # "no such table" / UndefinedTable
        raise CommandFailed(no_schema) from exc
    finally:
        await db.dispose()


def failing_politely(command: Command) -> Command:
    """A :class:`CommandFailed` inside ``command`` is printed and becomes its exit code."""

    @functools.wraps(command)
    async def run(*args: Any, **kwargs: Any) -> int:
        try:
            return await command(*args, **kwargs)
        except CommandFailed as failed:
            print(failed.message, file=sys.stderr)
            return failed.exit_code

    return run
