"""The package's shape: small files, thin CLI modules, no import cycle, no copied code.

These read the source as text (no imports), so they take milliseconds and fail with the file and
line to look at.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "spacy_gliclass"
MAX_FILE_LINES = 400
MAX_CLI_LINES = 120
DUPLICATE_LINES = 4
# A run of lines shorter than this in all is too thin to count as copied code (a few closing
# brackets, `else:` / `return x`).
MIN_DUPLICATE_CHARS = 80


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_file_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in sources() if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES}
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"


def test_cli_modules_hold_argument_parsing_only():
    long = {p.name: n for p in (PACKAGE / "cli").glob("*.py") if (n := len(p.read_text().splitlines())) > MAX_CLI_LINES}
    assert not long, f"CLI modules over {MAX_CLI_LINES} lines (move the logic into the package): {long}"


def module_imports(path: Path) -> set[str]:
    """Package modules imported at module level (``if TYPE_CHECKING:`` blocks included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    body = list(ast.parse(path.read_text()).body)
    while body:
        node = body.pop(0)
        if isinstance(node, ast.If | ast.Try):
            body.extend(node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", []))
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] == "spacy_gliclass"}


def test_no_import_cycle():
    modules = {module_name(p): p for p in sources()}
    graph = {name: {m for m in module_imports(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def significant(line: str) -> str | None:
    """A line that says something: no blank, comment, import or bracket-only line."""
    text = line.strip()
    if not text or text.startswith(("#", "import ", "from ")) or re.fullmatch(r"[()\[\]{},:;\"']*", text):
        return None
    return text


def test_no_duplicated_region_of_four_lines():
    places: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in sources():
        lines = [(n, s) for n, line in enumerate(path.read_text().splitlines(), 1) if (s := significant(line))]
        for k in range(len(lines) - DUPLICATE_LINES + 1):
            run = tuple(s for _, s in lines[k : k + DUPLICATE_LINES])
            if sum(map(len, run)) >= MIN_DUPLICATE_CHARS:
                places[run].append(f"{path.relative_to(PACKAGE)}:{lines[k][0]}")
    copies = {" / ".join(run)[:120]: where for run, where in places.items() if len(where) > 1}
    assert not copies, "the same lines in several places (give them one home):\n" + "\n".join(
        f"  {where}: {run}" for run, where in copies.items()
    )
