"""The README's links and pictures point at files of the repository: the manual's own
links are checked by its strict build (`make docs`), the README's are not."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)|<img src=\"([^\"]+)\"")


def relative_targets(markdown: str) -> list[str]:
    targets = [link or image for link, image in LINK.findall(markdown)]
    return [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:", t) and t[0] != "#"]


def test_the_scan_reads_links_and_images_but_not_web_addresses() -> None:
    markdown = ('[a](docs/a.md#x) <img src="docs/images/b.png" width="49%"> '
                '[web](https://example.org) <http://127.0.0.1:8501>')
    assert relative_targets(markdown) == ["docs/a.md", "docs/images/b.png"]


def test_every_relative_link_of_the_readme_exists() -> None:
    targets = relative_targets((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(targets) > 10
    missing = [t for t in targets if not (ROOT / t).is_file()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
