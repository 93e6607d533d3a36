"""Normalization: one rule for each thing every adapter meets (times, backtrace lines, depth and
size, Ruby `inspect` strings), so adapters only map their wire format onto the model.

Where each rule runs:
- `normalize(occurrence)`, the one pass after every adapter's mapping (`lodge.ingest` calls it for
  every occurrence of every protocol, before scrubbing and grouping):
  - times: every time the mapping left as sent (`Occurrence.with_sent_times`) is read by the one
    parser with the one set of bounds (`timestamps`), and every time of the model is held to them;
  - backtrace lines: every frame sent as a line of text (`Frame.from_line`) is read by the parser
    of the occurrence's language (`backtraces`);
  - Ruby `inspect` strings typed (`ruby`), for the clients that send them.
- While the model is built (`lodge.occurrence` validators, rules from `limits`): depth cuts, key
  repair and label clipping. They cannot wait for the pass: pydantic itself fails on deeper data.
  (A sent time the pass keeps verbatim in `extra` is cut by the same rule where it lands.)

Cheap to import (no pydantic): the light handlers (CrashLog /announce) use the time parser too.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from lodge.occurrence import Frame, Occurrence, Path


def normalize(occurrence: Occurrence) -> None:
    """Apply every post-mapping rule to `occurrence`, in place (idempotent)."""
    from lodge.normalize import ruby
    from lodge.normalize.limits import MAX_DEPTH, cut_depth
    from lodge.normalize.timestamps import bounded, parse_time

    for sent in occurrence.take_sent_times():
        read = [parse_time(value) for value in sent.values]
        seconds = next((t for t in read if t is not None), None)
        if seconds is not None:
            _place(occurrence, sent.into, seconds)
        if sent.keep_at and read and read[0] is None and sent.values[0] is not None:
            # Kept where it lands, cut to the depth left there (as the model cuts what it is built with).
            _place(occurrence, sent.keep_at, cut_depth(sent.values[0], MAX_DEPTH - len(sent.keep_at) + 1))
    occurrence.timestamp = bounded(occurrence.timestamp)
    for event in occurrence.events or ():
        event.time = bounded(event.time)
        event.end = bounded(event.end)

    for exception in occurrence.exceptions:
        read_frames(exception.frames, occurrence.language)

    notifier = occurrence.notifier
    if notifier is not None and ruby.sends_inspect_strings(notifier.name, notifier.version):
        ruby.coerce_occurrence(occurrence)


def read_frames(frames: Iterable[Frame], language: str | None) -> None:
    """Every frame sent as a line of text read by `language`'s line parser (Ruby unless another
    is named), in place; a line that is no backtrace line stays the frame's file, whole."""
    from lodge.normalize.backtraces import parse_line

    for frame in frames:
        if frame.sent_line is not None:
            frame.read_line(parse_line(frame.sent_line, language))


def _place(root: Any, path: Path, value: Any) -> None:
    """Set `value` at `path` inside the model `root`, making the dicts on the way (an absent
    `extra`, say); a step that is no container, or an index past a list, leaves everything as it was."""
    target = root
    for step, following in pairwise(path):
        if isinstance(target, dict):
            inner = target.setdefault(step, {}) if isinstance(following, str) else target.get(step)
        elif isinstance(target, list):
            inner = target[step] if isinstance(step, int) and 0 <= step < len(target) else None
        else:
            inner = getattr(target, str(step), None)
            if inner is None and isinstance(following, str):
                inner = {}
                setattr(target, str(step), inner)
        if inner is None or isinstance(inner, (str, int, float, bool)):
            return
        target = inner
    last = path[-1]
    if isinstance(target, dict):
        target[last] = value
    elif isinstance(target, list):
        if isinstance(last, int) and 0 <= last < len(target):
            target[last] = value
    else:
        setattr(target, str(last), value)
