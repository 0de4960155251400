"""Page ranges in qpdf's syntax: ``1-3,5,8-z``. Pages count from 1, ``z`` is the last
page, ``r1`` the last and ``r2`` the one before it; a range may run backwards
(``z-1``) and ``8-`` runs to the end."""

from __future__ import annotations

from transmute_common.errors import InvalidArgument

MAX_ITEMS = 1000


def _page(token: str, count: int, spec: str) -> int:
    token = token.strip().lower()
    if token == "z":
        return count - 1
    from_end = token.startswith("r")
    digits = token[1:] if from_end else token
    if not digits.isdigit() or len(digits) > 7:
        raise _bad(spec, f"{token or 'an empty item'} is not a page")
    number = int(digits)
    if not 1 <= number <= count:
        raise _bad(spec, f"page {token} is outside 1-{count}", "page_out_of_range")
    return count - number if from_end else number - 1


def parse(spec: str | None, count: int) -> list[int]:
    """The 0-based page indexes ``spec`` names, in its order; every page when empty."""
    if spec is None or not spec.strip():
        return list(range(count))
    return [i for group in groups(spec, count) for i in group]


def groups(spec: str, count: int) -> list[list[int]]:
    """Each comma-separated item of ``spec`` as its own list of 0-based indexes."""
    items = spec.split(",")
    if len(items) > MAX_ITEMS:
        raise _bad(spec, f"more than {MAX_ITEMS} items")
    found = []
    for item in items:
        first, dash, last = item.partition("-")
        start = _page(first, count, spec)
        if not dash:
            found.append([start])
            continue
        end = _page(last, count, spec) if last.strip() else count - 1
        step = 1 if end >= start else -1
        found.append(list(range(start, end + step, step)))
    return found


def _bad(spec: str, why: str, code: str = "invalid_pages") -> InvalidArgument:
    return InvalidArgument(f"page ranges {spec[:60]!r}: {why}", code=code)
