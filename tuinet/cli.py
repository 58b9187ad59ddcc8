"""The `tuinet` command (click). Imports of the app stay inside the commands that need it."""

from __future__ import annotations

import sys

import click

from tuinet.__about__ import __version__

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.version_option(__version__, "-V", "--version", prog_name="tuinet")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Train neural networks in the terminal and watch them learn.

    \b
    Examples:
      tuinet --version
      python -c "import tuinet; print(tuinet.Sequential)"
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        click.echo("\nThe interactive app and `tuinet train` are not built yet; the engine is "
                   "available as `import tuinet`.", err=True)
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
