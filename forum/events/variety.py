"""Varied slots: of the engine's ranked slots, one of each group of near-identical ones.

Ranked slots often come as neighbours (09:00, 09:30, 10:00 the same day, alike for every
site). The planner shows, and a poll offers, the best of each group, preferring a slot in a
situation not offered yet, then the same situation on another day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from forum.core import times

# Two slots alike for every site are neighbours when they start at most this far apart.
NEIGHBOURS = dt.timedelta(hours=1)


def situation(slot: dict[str, Any]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """Which site is in which categories during a slot: two slots alike in this differ
    only in the time of day."""
    return tuple((row["site"], tuple(row["categories"])) for row in slot["institutions"])


def slot_groups(slots: list[dict[str, Any]]) -> list[list[int]]:
    """The slots (as indexes) in groups of near-identical ones: the same situation for
    every site and starts that follow each other at most NEIGHBOURS apart. Each group
    lists its slots best first; groups come in the order of their best slot."""
    starts = [times.parse_instant(slot["start"]) for slot in slots]
    by_situation: dict[tuple[Any, ...], list[int]] = {}
    for index, slot in enumerate(slots):
        by_situation.setdefault(situation(slot), []).append(index)
    groups: list[list[int]] = []
    for members in by_situation.values():
        members.sort(key=lambda i: starts[i])
        chain = [members[0]]
        for index in members[1:]:
            if starts[index] - starts[chain[-1]] > NEIGHBOURS:
                groups.append(sorted(chain))
                chain = []
            chain.append(index)
        groups.append(sorted(chain))
    groups.sort(key=lambda group: group[0])
    return groups


def chosen_groups(
    slots: list[dict[str, Any]], groups: list[list[int]], count: int
) -> list[list[int]]:
    """Up to ``count`` groups, one slot shown of each: first those whose situation is
    not shown yet (the next different choice), then, when there are not enough of them,
    the same situation on another day, in the order of rank."""
    fresh: list[list[int]] = []
    again: list[list[int]] = []
    seen: set[tuple[Any, ...]] = set()
    for group in groups:
        kind = situation(slots[group[0]])
        (again if kind in seen else fresh).append(group)
        seen.add(kind)
    return (fresh + again)[:count]


def varied(slots: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """Up to ``count`` slots: the best of each group, in the order chosen_groups gives;
    when there are fewer groups than that, then the best of the others that start more
    than NEIGHBOURS away from every slot taken (another hour of a day already offered)."""
    chosen = [group[0] for group in chosen_groups(slots, slot_groups(slots), count)]
    starts = [times.parse_instant(slot["start"]) for slot in slots]
    for index in range(len(slots)):
        if len(chosen) >= count:
            break
        if all(abs(starts[index] - starts[taken]) > NEIGHBOURS for taken in chosen):
            chosen.append(index)
    return [slots[index] for index in chosen]
