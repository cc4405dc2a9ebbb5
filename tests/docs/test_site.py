"""The documentation site builds with MkDocs in strict mode (no broken link or anchor, no page left out
of the navigation, no navigation entry without its page), and the README's links lead somewhere."""

import re
import subprocess
import sys
from pathlib import Path

from tests.docs.samples import ROOT


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "architecture" / "definitions" / "index.html").exists()
    assert (site / "operators" / "settings" / "index.html").exists()


def test_the_readme_links_lead_to_files() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into docs/"
    assert not [link for link in local if not (ROOT / link).exists()]
