"""Render the "Every baselines name" table of docs/porting.md: each public name of baselines, and what it is here.

    python docs/tools/porting_table.py          # rewrite the table between the markers in docs/porting.md
    python docs/tools/porting_table.py --check  # exit 1 if the table there is not what this script renders

The names come from `baselines_names.json` beside this file (transcribed once from baselines' source; its header
says which commit). Each name is looked up at baselines' path with `baselines` renamed to `baselines_tf2`:
- **same**: it imports, and every call baselines accepted still binds (baselines' positional parameters lead ours
  in the same order, its keywords exist, ours add only parameters with defaults; a constant or module just exists);
- **changed**: it imports but the parameters differ, or the data file records a difference in behaviour;
- **not available**: it does not import, or it exists only to raise NotImplementedError (the data file says why
  and what replaces it, and this script checks that it does raise).
A name missing here without a reason in the data file stops the script, so a new gap cannot go unexplained.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).with_name("baselines_names.json")
PORTING_MD = REPO / "docs" / "porting.md"
START = "<!-- names table start -->"
END = "<!-- names table end -->"
STATUSES = ("same", "changed", "not available")
MAX_LISTED_EXTRAS = 4  # a "same" row names at most this many parameters we add, then "..."


@dataclass(frozen=True)
class Row:
    """One baselines name and what it is in baselines_tf2."""

    name: str
    status: str  # one of STATUSES
    note: str  # how it changed, why it is not available, or the parameters we add


def tf2_path(baselines_module: str) -> str:
    """`baselines.common.models` -> `baselines_tf2.common.models`."""
    return "baselines_tf2" + baselines_module[len("baselines"):]


def ours_parameters(obj: Any) -> list[inspect.Parameter] | None:
    """The parameters of a function, or of a class's constructor; None if Python cannot tell."""
    try:
        return list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return None


def compare(theirs: list[str], ours: list[inspect.Parameter]) -> tuple[list[str], list[str]]:
    """(differences that break a baselines call, parameters we add with defaults)."""
    kinds = inspect.Parameter
    positional = [p.name for p in ours if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    keyword = {p.name for p in ours if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)}
    has_var_positional = any(p.kind is kinds.VAR_POSITIONAL for p in ours)
    has_var_keyword = any(p.kind is kinds.VAR_KEYWORD for p in ours)
    their_positional: list[str] = []
    their_keyword: list[str] = []
    problems: list[str] = []
    keyword_only = False
    for name in theirs:
        if name == "*":
            keyword_only = True
        elif name.startswith("**"):
            if not has_var_keyword:
                problems.append(f"no `{name}`")
        elif name.startswith("*"):
            keyword_only = True
            if not has_var_positional:
                problems.append(f"no `{name}`")
        else:
            (their_keyword if keyword_only else their_positional).append(name)
    renamed: set[str] = set()
    for index, name in enumerate(their_positional):
        if name not in positional and name not in keyword and index < len(positional) \
                and positional[index] not in their_positional:
            renamed.add(positional[index])  # same place, another name: positional calls still work
            problems.append(f"`{name}` is called `{positional[index]}`")
        elif name not in positional and name not in keyword:
            problems.append(f"no `{name}`" if not has_var_keyword else f"`{name}` only through `**kwargs`")
        elif name not in positional:
            problems.append(f"`{name}` is keyword-only")
        elif positional.index(name) != index:
            problems.append(f"`{name}` is positional parameter {positional.index(name) + 1}, not {index + 1}")
    for name in their_keyword:
        if name not in keyword and not has_var_keyword:
            problems.append(f"no `{name}`")
    named = {name.lstrip("*") for name in theirs}
    extras: list[str] = []
    for p in ours:
        if p.name in named or p.name in renamed or p.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD):
            continue
        if p.default is inspect.Parameter.empty:
            problems.append(f"requires `{p.name}`")
        else:
            extras.append(p.name)
    return problems, extras


def raises_not_implemented(obj: Any) -> bool:
    """Whether calling `obj` (None for each required argument) raises NotImplementedError, as TF1-only names do."""
    parameters = ours_parameters(obj) or []
    required = [p for p in parameters if p.default is inspect.Parameter.empty
                and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    try:
        obj(*[None] * len(required))
    except NotImplementedError:
        return True
    except Exception:  # any other failure means it is not a deliberate "not available"
        return False
    return False


def classify(module: Any, name: str, entry: Any) -> Row:
    """The row for one name of a module that imports."""
    if entry is None or isinstance(entry, list):
        entry = {"params": entry}
    changed, unavailable = entry.get("changed"), entry.get("unavailable")
    if not hasattr(module, name):
        if unavailable is None:
            raise LookupError(f"{module.__name__}.{name} is missing and the data file gives no reason")
        return Row(name, "not available", unavailable)
    obj = getattr(module, name)
    if unavailable is not None:
        if callable(obj) and not inspect.isclass(obj) and not raises_not_implemented(obj):
            raise LookupError(f"{module.__name__}.{name} is marked not available but does not raise "
                              "NotImplementedError: update the data file")
        return Row(name, "not available", unavailable)
    theirs = entry.get("params")
    problems: list[str] = []
    extras: list[str] = []
    if theirs is not None:
        ours = ours_parameters(obj) if callable(obj) else None
        if not callable(obj):
            problems.append("not callable here")
        elif ours is not None:
            problems, extras = compare(theirs, ours)
    if changed is not None:
        return Row(name, "changed", changed)
    if problems:
        return Row(name, "changed", "parameters: " + "; ".join(problems))
    if not extras:
        return Row(name, "same", "")
    listed = ", ".join(f"`{extra}`" for extra in extras[:MAX_LISTED_EXTRAS])
    more = ", ..." if len(extras) > MAX_LISTED_EXTRAS else ""
    return Row(name, "same", f"adds {listed}{more}")


def module_rows(baselines_module: str, spec: dict[str, Any]) -> tuple[list[Row], str | None]:
    """Rows for each name of one baselines module, and the reason if the whole module is not ported."""
    try:
        module = importlib.import_module(tf2_path(baselines_module))
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("baselines_tf2"):
            raise
        reason = spec.get("unavailable")
        if reason is None:
            raise LookupError(f"{tf2_path(baselines_module)} does not exist and the data file gives no reason") \
                from err
        return [Row(name, "not available", reason) for name in spec["names"]], reason
    rows: list[Row] = []
    unexplained: list[str] = []
    for name, entry in spec["names"].items():
        try:
            rows.append(classify(module, name, entry))
        except LookupError as err:
            unexplained.append(str(err))
    if unexplained:
        raise LookupError("\n".join(unexplained))
    return rows, None


def render(data: dict[str, Any]) -> str:
    """The Markdown between the markers: a count, then one table per module."""
    blocks: list[str] = []
    counts = dict.fromkeys(STATUSES, 0)
    missing: list[str] = []
    for baselines_module, spec in data["modules"].items():
        try:
            rows, module_reason = module_rows(baselines_module, spec)
        except LookupError as err:
            missing.append(str(err))
            continue
        for row in rows:
            counts[row.status] += 1
        heading = f"### `{baselines_module}`"
        if module_reason is not None:
            names = ", ".join(f"`{row.name}`" for row in rows)
            blocks.append(f"{heading}\n\nNot available: {module_reason}. Its names: {names}.")
            continue
        lines = [heading, "", "| name | status | how / why |", "|---|---|---|"]
        lines += [f"| `{row.name}` | {row.status} | {row.note} |" for row in rows]
        blocks.append("\n".join(lines))
    if missing:
        raise LookupError("names without a status:\n" + "\n".join(missing))
    algorithms = "\n".join(f"- `baselines.{alg}`: {why}." for alg, why in data["not_ported_algorithms"].items())
    total = sum(counts.values())
    summary = (f"{total} names in {len(data['modules'])} modules: {counts['same']} same, {counts['changed']} changed, "
               f"{counts['not available']} not available.")
    return "\n\n".join([summary, *blocks, "### Algorithms not ported", algorithms])


def replace_table(document: str, table: str) -> str:
    """`document` with the text between the markers replaced by `table`."""
    if document.count(START) != 1 or document.count(END) != 1:
        raise ValueError(f"{PORTING_MD} must hold `{START}` and `{END}` once each")
    head, rest = document.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Write the table into docs/porting.md, or with --check report whether it is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/porting.md's table is out of date")
    args = parser.parse_args(argv)
    document = PORTING_MD.read_text()
    updated = replace_table(document, render(json.loads(DATA.read_text())))
    if args.check:
        if updated != document:
            print(f"{PORTING_MD} is out of date: run python {Path(__file__).relative_to(REPO)}", file=sys.stderr)
            return 1
        return 0
    PORTING_MD.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
