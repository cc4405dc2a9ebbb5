"""`lgsp secret-key`: make, inspect and move the platform secret (docs/operators/secret-key.md)."""

import secrets
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from lgsp.settings import Settings

if TYPE_CHECKING:
    from lgsp.security import PlatformKeys

keys_app = typer.Typer(
    no_args_is_help=True,
    help="The platform secret (LGSP_SECRET_KEY): make one, see which key stored hashes need, move one out"
    " of the database.",
)
console = Console()


@keys_app.command("new")
def new_key() -> None:
    """Print a new random secret key (256 bits) for LGSP_SECRET_KEY."""
    print(secrets.token_urlsafe(32))


@keys_app.command("status")
def status() -> None:
    """Rows hashed under each key, per column: what each previous key still matches."""
    from lgsp.cli import run
    from lgsp.db import Database
    from lgsp.reports.key_versions import KeyVersionCount, key_versions

    settings = Settings()
    keys = platform_keys_or_exit(settings)

    async def main() -> list[KeyVersionCount]:
        database = Database(settings.database_url)
        try:
            with console.status("counting stored hashes by key..."):
                return await key_versions(database, keys)
        finally:
            await database.dispose()

    counts = run(main())
    if counts is None:
        raise typer.Exit(130)
    table = Table(title=f"stored hashes by key (current key {keys.current.id})")
    for heading in ("column", "key", "rows", "key is"):
        table.add_column(heading, justify="right" if heading == "rows" else "left")
    colours = {"current": "green", "previous": "yellow", "unknown": "red"}
    for count in counts:
        status = f"[{colours[count.status]}]{count.status}[/]"
        table.add_row(count.column, count.key_id, f"{count.rows:,}", status)
    console.print(table)
    if any(c.status == "unknown" for c in counts):
        console.print("[red]rows hashed under a key that is not configured match nobody any more[/]")
        raise typer.Exit(1)


@keys_app.command("export-stored")
def export_stored() -> None:
    """Print the secret an earlier version generated and kept in the database, to move it to a file."""
    from lgsp.cli import run
    from lgsp.db import Database
    from lgsp.security import stored_secret

    async def main() -> str | None:
        database = Database(Settings().database_url)
        try:
            return await stored_secret(database)
        finally:
            await database.dispose()

    found = run(main())
    if found is None:
        console.print("no secret kept in this database", style="yellow")
        raise typer.Exit(1)
    print(found)


def platform_keys_or_exit(settings: Settings) -> "PlatformKeys":
    """The platform keys of `settings`; without LGSP_SECRET_KEY, says why and exits with status 2."""
    from lgsp.security import MissingSecretKey, PlatformKeys

    try:
        return PlatformKeys.from_settings(settings)
    except MissingSecretKey as exc:
        Console(stderr=True).print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
