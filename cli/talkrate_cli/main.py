"""talkrate: read, rate, watch, administer, operate and simulate a conference from a terminal.

Talks to the API over HTTP (--api URL, or --stack NAME for a deployed stage); `talkrate ops`
works on the configured backends directly. Errors are one line on stderr and a non-zero exit;
with --json, stdout carries one JSON document whatever the outcome (`watch`: one a line), a
failure as `{"error": {...}}` (talkrate_cli.errors).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from talkrate_cli import output, signals
from talkrate_cli.errors import (
    Aborted,
    BadInput,
    CliError,
    Interrupted,
    Unexpected,
    UsageProblem,
)
from talkrate_cli.settings import (
    LOCAL_API,
    ORGANISER_OUTPUT,
    VoterTokens,
    admin_token,
    admin_token_of_stack,
    api_of,
    config_of,
    local_data_dir,
    retry_pauses,
    sendable_token,
    stack_outputs,
)

if TYPE_CHECKING:
    from talkrate_cli.client import Api


@dataclass
class Session:
    """What every command shares: where the API is, and how to print."""

    api_url: str | None
    stack: str | None
    region: str | None
    as_json: bool
    _api: Api | None = field(default=None, repr=False)
    _zone: tuple[ZoneInfo | None] | None = field(default=None, repr=False)
    # Why the venue's zone could not be read (its config unreadable: the API out of reach, or
    # not the API), if it could not
    zone_unread: CliError | None = field(default=None, repr=False)
    # Where the stack's /app/config.json is (its pages' origin, not the API's): --stack only
    _config_url: str | None = field(default=None, repr=False)
    # The stack's outputs, as read for its API's URL: --stack only
    _outputs: dict[str, str] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The API's URL: --api, else the stack's output, else the local runtime."""
        if self.api_url is None:
            if self.stack:
                outputs = stack_outputs(self.stack, self.region)
                self.api_url, self._config_url = api_of(self.stack, outputs), config_of(outputs)
                self._outputs = outputs
            else:
                self.api_url = LOCAL_API
        return self.api_url

    @property
    def api(self) -> Api:
        """The API client, made on first use (httpx is loaded with it, not for `--help`)."""
        if self._api is None:
            from talkrate_cli.client import Api

            url = self.url
            self._api = Api(
                url, admin_token(url), config_url=self._config_url, retry_pauses=retry_pauses()
            )
        return self._api

    def venue_zone(self) -> ZoneInfo | None:
        """The venue's time zone, in which times are shown and read: the one the deployment's
        /app/config.json names, read once a run, at the first command that shows or takes a
        time. None for the machine's own: none named, or the config cannot be read (a command
        never fails for it: its times are shown right all the same, named by their zone)."""
        if self._zone is None:
            try:
                config = self.api.page_config()
            except CliError as error:
                config, self.zone_unread = None, error
            self._zone = (output.venue_zone(config),)
        return self._zone[0]

    def admin_api(self) -> Api:
        """The API client, refused before anything is read or written when no organiser token is
        known or the API refuses the one given (the same 401 or 403 a write would get): a dry
        run fails as the real run would, and `admin rm` does not ask first.

        The token: TALKRATE_ADMIN_TOKEN; else with --stack the one the stack generated (its
        AdminTokenSecretArn secret, read with the caller's AWS credentials); else a local
        runtime's own."""
        api = self.api
        token = admin_token(self.url)
        if os.environ.get("TALKRATE_ADMIN_TOKEN", "").strip():
            where = "TALKRATE_ADMIN_TOKEN"
        elif self._outputs is not None and self.stack:
            token = api.admin_token = admin_token_of_stack(self.stack, self._outputs, self.region)
            where = f"the secret of stack {self.stack}'s {ORGANISER_OUTPUT}"
        else:
            where = f"the organiser token in {local_data_dir()}"
        if token is None:
            raise CliError(
                "no organiser token: set TALKRATE_ADMIN_TOKEN, or give --stack with AWS "
                "credentials that may read the stack's (a local runtime keeps its own in its data "
                "folder's organiser-token: .local/, or the --data-dir it was given, which "
                "TALKRATE_LOCAL_DATA names to this command)"
            )
        sendable_token(token, where)
        api.check_organiser()
        return api

    def voter_tokens(self) -> VoterTokens:
        """Where this user's voter tokens are kept."""
        return VoterTokens()


pass_session = click.make_pass_decorator(Session)


PROG_NAME = "talkrate"


def as_run(text: str, prog: str | None = None) -> str:
    """`text` naming the operations as the command was run (`prog`; else the running command's
    name, `talkrate` outside one): the alias `python -m talkrate_ops` says its own name where
    the words say `talkrate ops` ("`talkrate ops rebuild` recounts them")."""
    prog = prog or running_as()
    return text if prog == PROG_NAME else re.sub(r"\btalkrate ops\b", prog, text)


def running_as() -> str:
    """The name the running command was run as (`talkrate` outside one)."""
    ctx = click.get_current_context(silent=True)
    return (ctx.find_root().info_name if ctx else None) or PROG_NAME


def report(error: CliError, as_json: bool, prog: str | None = None) -> None:
    """A failure: one line on stderr (a line for each of its parts first, without --json) and,
    with --json, its document on stdout (with what the command got done before it, when it
    says); each line starts with the command's name as it was run (`prog`, else the running
    command's), as its advice names it (`as_run`)."""
    prog = prog or running_as()
    said = [as_run(line, prog) for line in error.said()]
    if as_json:
        document = error.document()
        if isinstance(document.get("detail"), str):
            document["detail"] = as_run(document["detail"], prog)
        output.emit_json({**(error.result or {}), "error": document})
        said = said[-1:]  # the parts are in the document
    # One line each, whatever the reason holds: a driver's message brings its advice on a line
    # of its own ("connection refused\n\tIs the server running…").
    for line in said:
        output.say_error(f"{prog}: {' '.join(line.split())}")


# ctx.meta's key for "--json was given": known before the options are parsed, for --help and
# --version, which answer while the options are read (before the group makes its Session).
JSON_ASKED = "talkrate.json"


class TalkrateContext(click.Context):
    """click's context, whose help is a JSON document under --json."""

    def get_help(self) -> str:
        text = super().get_help()
        return json.dumps({"help": text}) if self.meta.get(JSON_ASKED) else text


class TalkrateGroup(click.Group):
    """Turns every failure below it into one line and an exit status."""

    context_class = TalkrateContext

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:
            ctx.meta[JSON_ASKED] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is None:
            _help_first(ctx)
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except CliError as error:
            report(error, _as_json(ctx))
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            report(Interrupted("interrupted"), _as_json(ctx))
            ctx.exit(130)
        except BrokenPipeError:
            # The reader left (`talkrate admin export - | head`): quiet, as other commands are.
            # Python's own flush at exit would complain again: stdout goes nowhere from now on.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(141)
        except Exception as error:
            if os.environ.get("TALKRATE_DEBUG"):
                traceback.print_exc()
            line = f"unexpected {type(error).__name__}: {error}".splitlines()[0]
            report(Unexpected(f"{line} (TALKRATE_DEBUG=1 shows where)"), _as_json(ctx))
            ctx.exit(1)


def _help_first(ctx: click.Context) -> None:
    """`talkrate --api URL ops rebuild --help`: the help of the command named, shown before any
    group's own callback runs (click runs `ops`'s, which refuses --api, before it reads what
    follows `rebuild`). Each command's arguments are read quietly first: a `--help` that is an
    option's value is none, and the command then runs as it would have."""
    rest = [*ctx._protected_args, *ctx.args]
    parent: click.Context = ctx
    group: click.Command = ctx.command
    while rest and isinstance(group, click.Group):
        try:
            name, command, rest = group.resolve_command(parent, rest)
            if name is None or command is None:
                return
            probe = command.make_context(name, list(rest), parent=parent, resilient_parsing=True)
        except click.ClickException:
            return  # said as it would be without help
        helps = command.get_help_option(probe)
        asked = probe.get_parameter_source(helps.name) if helps and helps.name else None
        if asked is click.core.ParameterSource.COMMANDLINE:
            command.make_context(name, list(rest), parent=parent)  # shows the help: Exit
            return
        parent, group, rest = probe, command, [*probe._protected_args, *probe.args]


def _as_json(ctx: click.Context) -> bool:
    session = ctx.find_object(Session)
    return session.as_json if session else bool(ctx.meta.get(JSON_ASKED))


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version: the installed talkrate's version, named as the command was run (a document
    under --json)."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version

    number = version("talkrate")
    if ctx.meta.get(JSON_ASKED):
        output.emit_json({"version": number})
    else:
        click.echo(f"{ctx.find_root().info_name or PROG_NAME}, version {number}")
    ctx.exit()


# talkrate's --version, and its alias's (`python -m talkrate_ops --version`)
version_option = click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="Show the version and exit.",
)


# The subcommands whose modules load only when named (or listed, for the help): rating a talk,
# showing it or listing the programme does not pay for simulate's asyncio and progress bars,
# admin's programme files and clash checks, or watch's live display (about a third of the
# command's start).
LAZY_COMMANDS = {
    "watch": "talkrate_cli.commands.watch:watch",
    "simulate": "talkrate_cli.commands.simulate:simulate",
    "admin": "talkrate_cli.commands.admin:admin",
    "ops": "talkrate_cli.commands.ops:ops",
}


class _Commands(TalkrateGroup):
    """talkrate's own group: the reading commands attached, the others loaded when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            module, name = LAZY_COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module), name)
            _with_context(command)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


# The options of `talkrate` itself: given after a command, they are said where they go.
GLOBAL_OPTIONS = ("--api", "--stack", "--region", "--json")
JSON_HELP = 'Print JSON for scripts: one document on stdout, a failure as {"error": {...}}.'


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--api",
    "api_url",
    envvar="TALKRATE_API",
    metavar="URL",
    help=f"The API's base URL [env TALKRATE_API; default {LOCAL_API}, the local runtime].",
)
@click.option(
    "--stack",
    metavar="NAME",
    help="Read the API URL from this CloudFormation stack (and for `admin`, without "
    "TALKRATE_ADMIN_TOKEN, the organiser token from its secret).",
)
@click.option(
    "--region", metavar="REGION", help="With --stack: the stack's region (else the AWS default)."
)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@version_option
@click.pass_context
def cli(
    ctx: click.Context, api_url: str | None, stack: str | None, region: str | None, as_json: bool
) -> None:
    """Rate conference talks, watch them live, run the programme and simulate a crowd."""
    if api_url and stack:
        given = ctx.get_parameter_source("api_url")
        if given is not click.core.ParameterSource.ENVIRONMENT:
            raise click.UsageError("give --api or --stack, not both")
        api_url = None  # an explicit --stack wins over TALKRATE_API
    if region is not None and not stack:
        # (taken and unused: it is only where the stack is looked for; the secrets `ops` reads
        # are looked for in AWS_REGION's, as the functions read them)
        raise click.UsageError("--region goes with --stack (it says where the stack is)")
    session = Session(api_url, stack, region, as_json)
    ctx.obj = session
    ctx.call_on_close(lambda: session._api.close() if session._api else None)


def register() -> None:
    """Attach the reading subcommands (kept in their own module); the rest come when named."""
    from talkrate_cli.commands import reading

    for command in reading.COMMANDS:
        cli.add_command(command)
    _with_context(cli)


def _with_context(command: click.Command) -> None:
    """Every command's context is talkrate's (its help a JSON document under --json)."""
    command.context_class = TalkrateContext
    for sub in getattr(command, "commands", {}).values():
        _with_context(sub)


register()


# Set once SIGTERM arrived (`timeout`, `kill`, a supervisor stopping a room screen's watch).
TERMINATED = threading.Event()


def _terminate(_signum: int, _frame: Any) -> None:
    """SIGTERM stops a command as Ctrl-C does (a watch gives the terminal its cursor back, an
    import or a simulation says how far it got); a second one ends it at once, unless it is the
    first one sent twice (`timeout` signals the command, then its group: talkrate_cli.signals)."""
    if signals.duplicate(signal.SIGTERM):
        return
    if TERMINATED.is_set():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        return
    TERMINATED.set()
    if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, signal.SIG_DFL, None):
        # Ctrl-C ignored (a background job): stop here, or, inside an asyncio run (`simulate`),
        # from the loop itself, between its tasks: raised here it could land inside one of
        # them, which asyncio then reports with a traceback ("Task exception was never
        # retrieved") under the command's own report.
        loop = _running_loop()
        if loop is None:
            raise KeyboardInterrupt
        loop.call_soon_threadsafe(_interrupt)
        return
    # As Ctrl-C itself: its handler may be asyncio's (`simulate`), which cancels the run's task
    # where a KeyboardInterrupt raised inside one of its tasks would print that task's traceback.
    signal.raise_signal(signal.SIGINT)


def _running_loop() -> Any:
    """The asyncio loop running in this thread, if any (asyncio imported only if it was)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _interrupt() -> None:
    raise KeyboardInterrupt


def main(
    argv: list[str] | None = None, root: click.Group | None = None, prog_name: str = "talkrate"
) -> int:
    """Run the command line (`root`, talkrate's own group unless another is given, called
    `prog_name` in its help and its errors); the exit status (143 when SIGTERM stopped what
    Ctrl-C would have stopped with 130)."""
    output.replace_what_cannot_be_written()
    if threading.current_thread() is not threading.main_thread():
        return _main(argv, root or cli, prog_name)
    TERMINATED.clear()
    signals.forget()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        status = _main(argv, root or cli, prog_name)
    finally:
        # Stopped by SIGTERM, the handler stays to the end: its duplicate may still come.
        if not TERMINATED.is_set():
            signal.signal(signal.SIGTERM, previous)
    return 128 + signal.SIGTERM if TERMINATED.is_set() and status == 130 else status


def _main(argv: list[str] | None, root: click.Group, prog_name: str) -> int:
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        result = root.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except SystemExit:
        # click's own answer to a reader gone while it wrote the help or the version (`talkrate
        # --help | head -1`): stdout quieted, and exit 1. 141, as every command answers it.
        # (click's class: `_PacifyFlushWrapper` in 8.5, `PacifyFlushWrapper` before)
        if type(sys.stdout).__name__.lstrip("_") != "PacifyFlushWrapper":
            raise
        os.dup2(
            os.open(os.devnull, os.O_WRONLY), 1
        )  # (stdout's descriptor: click wraps the stream)
        return 141
    except click.ClickException as error:
        message = " ".join(error.format_message().split())  # click wraps some on two lines
        if isinstance(error, click.exceptions.NoArgsIsHelpError):
            # `talkrate ops` alone: click's message is the whole help; said as for `talkrate`
            message = "Missing command."
        problem: CliError = CliError(message)
        if isinstance(error, click.UsageError):
            if (
                isinstance(error, click.NoSuchOption)
                and error.option_name in GLOBAL_OPTIONS
                and root is cli  # (another root takes none of them)
            ):
                # `talkrate show X --json`: a global option, given after the command
                message += f" ({error.option_name} goes before the command: `talkrate {error.option_name} …`)"
            elif error.ctx is not None:
                message += f" (see `{error.ctx.command_path} --help`)"
            problem = UsageProblem(message)
        elif isinstance(error, click.FileError):
            problem = BadInput(message)
        # One line, as every other error: a script asked for JSON gets its usage errors so too
        report(problem, as_json, prog_name)
        return error.exit_code
    except click.Abort as error:
        # A question answered with Ctrl-C (or Ctrl-D) left the cursor after it: the line is
        # ended first, so "aborted" is not written on the question's line. (An answer "n" ended
        # the line itself; a Ctrl-C elsewhere was given its line by click, as the cause.)
        interrupted = isinstance(error.__context__, (KeyboardInterrupt, EOFError))
        if interrupted and error.__cause__ is None and sys.stderr.isatty():
            sys.stderr.write("\n")
        report(Aborted("aborted"), as_json, prog_name)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    """The console script's entry point."""
    status = main()
    if signals.stopped():  # (a SIGTERM, or a Ctrl-C the command took through signals)
        # Done, and stopping: the stop's duplicate (`timeout` signals the command, then its
        # group) may come while the interpreter ends, which puts every signal's default back
        # first: it killed the command that had ended well (exit 143 for 0).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
