"""Every code sample of the README and docs/ runs, so none can rot (tests/docs/samples.py says how each
kind of block is treated).

A page's samples run in order, each in processes of its own, in a scratch copy of the repository. A page
whose samples need a hub (every Python program; a shell sample naming the hub's address, an `LGSP_`
variable or `lgsp report|audit|db-upgrade`) gets one, served on a free port of the loopback on the
session's real broker and a fresh SQLite database, and its samples get the hub's settings in their
environment as `LGSP_` variables (`LGSP_HUB_URL`, `LGSP_ADMIN_TOKEN`, `LGSP_KAFKA_BOOTSTRAP`,
`LGSP_DATABASE_URL`...). Shell variables a block sets are seen by the page's later blocks.
"""

import asyncio
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from lgsp.settings import Settings
from tests.docs.conftest import ServedHub
from tests.docs.samples import (
    HUB,
    PARSED,
    ROOT,
    RUN,
    SHOWN,
    Sample,
    console_steps,
    output_matches,
    pages,
    runnable_pages,
    samples,
    shell_script,
)

SETTINGS = {f"LGSP_{name.upper()}" for name in Settings.model_fields}
BIN = Path(sys.executable).parent
TIMEOUT = 90.0  # seconds, for any one process a sample starts

#: Runs a script with the variables earlier blocks of the page left, and leaves its own for the next.
WRAPPER = """\
__docs_baseline=$(compgen -v | sort)
set -a; if [ -f "$DOCS_STATE" ]; then source "$DOCS_STATE"; fi; set +a
set -eo pipefail
{script}
set +eo pipefail
comm -13 <(printf '%s\\n' "$__docs_baseline") <(compgen -v | sort) | grep -v '^__docs' |
  while read -r __docs_name; do declare -p "$__docs_name"; done > "$DOCS_STATE"
"""


class Page:
    """One page's samples being run: the environment they share and the shell variables they left."""

    def __init__(self, scratch: Path, hub: ServedHub | None) -> None:
        self.scratch = scratch
        self.hub_url = hub.url if hub is not None else HUB
        self.env = os.environ | {
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "DOCS_PYTHON": sys.executable,
            "DOCS_STATE": str(scratch.parent / "shell-state"),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "TERM": "dumb",
        }
        if hub is not None:  # the hub's settings, as the variables that hand them to another process
            self.env |= hub.settings.environment() | {
                "LGSP_HUB_URL": hub.url,
                "LGSP_KAFKA_BOOTSTRAP": hub.bootstrap,
            }

    async def shell(self, script: str, where: str) -> tuple[int, str]:
        """(exit status, stdout and stderr) of `script` run by bash in the scratch directory."""
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            WRAPPER.format(script=script),
            cwd=self.scratch,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(TIMEOUT):
                out, _ = await process.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            await process.wait()
            pytest.fail(f"{where}: still running after {TIMEOUT:.0f} s")
        assert process.returncode is not None
        return process.returncode, out.decode(errors="replace")

    async def run(self, sample: Sample) -> None:
        if sample.language == "python":
            program = self.scratch.parent / f"sample_{sample.line}.py"
            program.write_text(sample.code)
            status, out = await self.shell(f'"$DOCS_PYTHON" {program}', sample.where)
            assert status == 0, f"{sample.where}: the program failed ({status}):\n{out[-4000:]}"
        elif sample.language == "bash":
            script = shell_script(sample.code, SETTINGS, self.hub_url)
            status, out = await self.shell(script, sample.where)
            assert status == 0, f"{sample.where}: the script failed ({status}):\n{script}\n---\n{out[-4000:]}"
        elif sample.language == "console":
            for command, expected in console_steps(sample.code):
                status, out = await self.shell(shell_script(command, SETTINGS, self.hub_url), sample.where)
                assert status == 0, f"{sample.where}: `{command}` failed ({status}):\n{out[-4000:]}"
                assert output_matches(expected, out), (
                    f"{sample.where}: `{command}` printed\n{out[-4000:]}\n--- the page shows\n{expected}"
                )

    async def run_all(self, page: str) -> None:
        found = samples(ROOT / page)
        if any("jq " in s.code for s in found):
            assert shutil.which("jq"), "the samples use jq: scripts/ensure-tools.sh installs it (Debian's jq)"
        for sample in found:
            if sample.language in RUN:
                await self.run(sample)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("page", runnable_pages(hub=True))
async def test_the_samples_of_a_page_run_against_a_hub(
    page: str, served_hub: ServedHub, scratch: Path
) -> None:
    await Page(scratch, served_hub).run_all(page)


@pytest.mark.parametrize("page", runnable_pages(hub=False))
async def test_the_samples_of_a_page_run(page: str, scratch: Path) -> None:
    """Pages whose samples need no hub (make targets, commands parsed or asking for --help, promtool)."""
    await Page(scratch, None).run_all(page)


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("bash", "true\nfalse\ntrue\n"),  # a command that fails in the middle of a script
        ("bash", "lgsp demo --systems 9999\n"),  # an option value the command refuses
        ("bash", "make no-such-target\n"),
        ("console", "$ echo 2\n1\n"),  # the output differs from what the page shows
        ("python", "raise SystemExit(3)\n"),
    ],
)
async def test_a_broken_sample_fails(language: str, code: str, scratch: Path) -> None:
    """The runner itself can fail: each of these broken samples must."""
    with pytest.raises(AssertionError):
        await Page(scratch, None).run(Sample("broken.md", 1, language, code))


def test_every_block_says_what_it_is() -> None:
    """A block without a language, or with one the runner does not know, would be neither run nor
    checked; a fence indented inside a list is not rendered as code by MkDocs."""
    known = RUN | PARSED | SHOWN
    for page in pages():
        unknown = [f"{s.where} ({s.language or 'none'})" for s in samples(page) if s.language not in known]
        assert not unknown, f"blocks of unknown kind (use one of {sorted(known)}): {unknown}"
        text = page.read_text(encoding="utf-8")
        assert "\n    ```" not in text and "\n  ```" not in text, f"{page}: an indented fence"


def test_there_are_samples_of_every_kind_to_run() -> None:
    """The collection itself can fail: a docs tree without samples would make the tests above vacuous."""
    languages = {s.language for page in pages() for s in samples(page)}
    assert languages >= RUN, f"no sample of {RUN - languages}"


def test_json_and_yaml_blocks_parse() -> None:
    for page in pages():
        for sample in samples(page):
            if sample.language == "json":
                json.loads(sample.code)
            elif sample.language == "yaml":
                yaml.safe_load(sample.code)
