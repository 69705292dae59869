"""Link check over the Markdown a reader follows: README.md, BENCHMARKS.md, docs/ and
bench/'s index and history. No network: every relative link must name a file or folder
of the repository, and an anchor (`#...`) must name a heading of the page it points to
(GitHub's slugs). Links to http(s) and mailto are left alone.

Usage: python3 scripts/check_links.py [FILE.md ...]   (default: the pages above)
Exit status 1 lists every broken link."""

import pathlib
import re
import sys
import urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ["README.md", "BENCHMARKS.md", "docs/*.md", "bench/*.md"]

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, inline markup dropped, punctuation
    other than '-' and '_' removed, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.lower()
    text = "".join(ch for ch in text if ch.isalnum() or ch in " -_")
    return text.replace(" ", "-")


def lines_outside_code(text: str):
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def anchors(path: pathlib.Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in lines_outside_code(path.read_text()):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    for name in re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", path.read_text()):
        found.add(name)
    return found


def check(page: pathlib.Path) -> list[str]:
    problems = []
    for number, line in lines_outside_code(page.read_text()):
        line = re.sub(r"`[^`]*`", "", line)  # code spans are not links
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            where = f"{page.relative_to(ROOT)}:{number}: {target}"
            file_part, _, anchor = target.partition("#")
            file_part = urllib.parse.unquote(file_part)
            dest = (page.parent / file_part).resolve() if file_part else page
            if ROOT not in dest.parents and dest != ROOT:
                problems.append(f"{where}: points outside the repository")
                continue
            if not dest.exists():
                problems.append(f"{where}: no such file")
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                problems.append(f"{where}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    return problems


def main(argv: list[str]) -> int:
    patterns = argv or DEFAULT
    pages = sorted({p for pattern in patterns for p in ROOT.glob(pattern) if p.is_file()})
    problems = [problem for page in pages for problem in check(page)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"links: {len(pages)} pages, {len(problems)} broken", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
