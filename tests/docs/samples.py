"""The code samples of the README and docs/: how they are found, and how a shell sample is made safe to run.

A sample is a fenced block at the start of a line; its language says what is done with it:

- `python`: a whole program, run in its own process;
- `bash`: a script, run whole (`set -eo pipefail`);
- `console`: `$ command` lines, each followed by the output it must print (`...` matches anything);
- `json`, `yaml`: must parse;
- `text`: an illustration (a diagram, a fragment, a command that cannot run here), left alone.

The samples of one page run in order against one hub, and shell variables a block sets are seen by the
page's later blocks (Python programs get them in their environment), so a page can be a tutorial.
"""

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN = {"python", "bash", "console"}
PARSED = {"json", "yaml"}
SHOWN = {"text"}
FENCE = re.compile(r"^```(?P<language>[^\n`]*)\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)
#: A fence not at the start of its line: MkDocs would not render it as code, and it would not be run.
INDENTED_FENCE = re.compile(r"^[ \t]+```", re.M)
#: The address the samples use for the hub; replaced by the test hub's.
HUB = "http://127.0.0.1:8000"

#: `lgsp` commands that serve until stopped or run for minutes: parsed (tests/docs/parse_only.py), not run.
LONG_LGSP = {"hub", "ngsp", "connector", "broker", "demo", "simulate", "fleet", "cluster"}
#: Other programs that serve until stopped: their `--help` is run with the sample's options.
LONG_OTHERS = {"prometheus"}
#: Programs that need what the test machines lack: a sample using them must be a `text` block.
NEEDS = {"docker": "a Docker engine", "kubectl": "a Kubernetes cluster", "helm": "a Kubernetes cluster"}
#: Variables the project reads that are not fields of lgsp.settings.Settings (docs/operators/settings.md).
OTHER_VARIABLES = {
    "LGSP_SECRETS_DIR",
    "LGSP_HUB_URL",
    "LGSP_CONNECTOR_API_KEY",
    "LGSP_SCREENSHOT_DIR",
    "LGSP_TEST_KAFKA_NODES",
}


@dataclass(frozen=True, slots=True)
class Sample:
    page: str  # relative to the repository
    line: int  # of the opening fence
    language: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """The README and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def samples(page: Path) -> list[Sample]:
    """Every fenced block of `page`, in order."""
    text = page.read_text(encoding="utf-8")
    name = str(page.relative_to(ROOT))
    return [
        Sample(name, text[: m.start()].count("\n") + 1, m.group("language").strip(), m.group("code"))
        for m in FENCE.finditer(text)
    ]


#: What in a sample means it needs a running hub: its address, its settings, or its database.
NEEDS_HUB = re.compile(re.escape(HUB) + r"|\$\{?LGSP_|\blgsp (report|audit|db-upgrade)\b")


def needs_hub(found: list[Sample]) -> bool:
    """Whether a page's samples need a running hub (every Python program does)."""
    return any(s.language == "python" or (s.language in RUN and NEEDS_HUB.search(s.code)) for s in found)


def runnable_pages(*, hub: bool) -> list[str]:
    """The pages with at least one sample to run, that need a hub (or that do not)."""
    chosen = []
    for page in pages():
        found = samples(page)
        if any(s.language in RUN for s in found) and needs_hub(found) == hub:
            chosen.append(str(page.relative_to(ROOT)))
    return chosen


def logical_lines(code: str) -> Iterator[str]:
    """Lines with backslash continuations joined."""
    pending = ""
    for line in code.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote spans lines (a heredoc, a JSON body): not a command to rewrite
        return []


def rewrite(line: str, settings: set[str]) -> str:
    """One logical shell line as the test runs it.

    - `export LGSP_X=...` must name a real setting, and is then left out (it would point the sample's
      later commands at a cluster that is not there);
    - `make TARGET` is a dry run (`make -n`), which proves the target and its variables exist;
    - `lgsp hub`, `lgsp demo`... (LONG_LGSP) are parsed with all their options, not run;
    - `prometheus ...` runs with `--help` added;
    - `docker`, `kubectl`, `helm` are refused: they need a Docker engine or a cluster (use `text`);
    - everything else runs as written, with the hub's address replaced by the test hub's.
    """
    words = _words(line)
    if not words:
        return line
    if words[0] in NEEDS:
        raise ValueError(
            f"`{line.strip()}` needs {NEEDS[words[0]]}, which the tests do not have: put it in a `text` block"
        )
    if words[0] == "export" and len(words) > 1 and words[1].startswith("LGSP_"):
        name = words[1].split("=")[0]
        if name not in settings | OTHER_VARIABLES:
            raise ValueError(f"{name} is not a setting (lgsp/settings.py) nor a variable the project reads")
        return ": " + shlex.quote(line)  # checked, not run
    if words[0] == "make":
        return re.sub(r"^(\s*)make\b", r"\1make -n", line, count=1)
    if words[0] == "lgsp" and len(words) > 1 and words[1] in LONG_LGSP:
        return re.sub(r"^(\s*)lgsp\b", r'\1"$DOCS_PYTHON" -m tests.docs.parse_only', line, count=1)
    if words[0] in LONG_OTHERS:
        return line.split(" #")[0].rstrip() + " --help >/dev/null"
    return line


def shell_script(code: str, settings: set[str], hub: str) -> str:
    """A `bash` sample (or one `console` command) rewritten line by line."""
    return "\n".join(rewrite(line, settings) for line in logical_lines(code)).replace(HUB, hub)


def console_steps(code: str) -> list[tuple[str, str]]:
    """(command, expected output) of each `$ ` line of a console sample; `\\`-continued lines join."""
    steps: list[tuple[str, list[str]]] = []
    continued = False
    for line in code.splitlines():
        if continued:
            steps[-1] = (steps[-1][0] + "\n" + line, steps[-1][1])
        elif line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        else:
            raise ValueError(f"a console sample starts with its first command ($ ...), not {line!r}")
        continued = line.rstrip().endswith("\\")
    return [(command, "\n".join(output)) for command, output in steps]


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def output_matches(expected: str, actual: str) -> bool:
    """Whether `actual` is `expected`, whitespace aside, where `...` in `expected` stands for anything."""
    parts = [re.escape(_squeeze(part)) for part in _squeeze(expected).split("...")]
    return re.fullmatch(r"\s*" + r".*?".join(parts) + r"\s*", _squeeze(actual), re.S) is not None
