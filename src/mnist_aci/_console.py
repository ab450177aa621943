"""What the CLI prints, in its own terms: progress lines on stdout, the package's warnings on stderr.

The library's messages name a setting as the keyword argument that sets it (``timeout_sec=<seconds>``,
``target='aci'``, ``keep_failed=True``), as a Python or notebook user passes it. The CLI shows each as the flag
that sets it (``--timeout <seconds>``, ``--target aci``, ``--keep-failed``): :func:`flag_wording` makes that
rewording from the CLI's table of flags, and every line the CLI prints goes through it.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from ._progress import hide_progress, show_progress
from .errors import MnistAciWarning

#: A text as the library words it -> the same text as the CLI words it.
Wording = Callable[[str], str]
#: A keyword argument in a message: ``name=`` after a space or a parenthesis, then a quoted string, a
#: ``<placeholder>`` or a word or number. Not one of a call or a repr shown in a message (``Class(name=...``,
#: ``, name=...``), of a URL's query or a command's option (``?name=``, ``--endpoint-name=``), nor a pin (``name==1``).
KEYWORD = r"(?<![^\s(])(?<!\w\()(?<!, )({names})=(?!=)('[^']*'|\"[^\"]*\"|<[^<>]+>|[\w.+-]*\w)"
#: How a switch flag is written in a message: ``--keep-failed`` is ``keep_failed=True``, ``--no-download`` is
#: ``download=False``.
SWITCHES = {"store_true": "True", "store_false": "False"}


class Flag(Protocol):
    """A flag of the CLI, as :func:`flag_wording` reads it."""

    @property
    def name(self) -> str: ...

    @property
    def dest(self) -> str: ...

    @property
    def settings(self) -> dict[str, Any]: ...


def flag_wording(flags: Iterable[Flag]) -> Wording:
    """The CLI's wording of a library message: each keyword argument that one of ``flags`` sets (by its ``dest``),
    written as that flag; the others as they are."""
    by_dest = {flag.dest: flag for flag in flags}
    keyword = re.compile(KEYWORD.format(names="|".join(map(re.escape, by_dest))))

    def as_flag(found: re.Match[str]) -> str:
        flag, value = by_dest[found[1]], found[2]
        switch = SWITCHES.get(flag.settings.get("action", ""))
        if switch is not None:
            return flag.name if value == switch else found[0]
        return f"{flag.name} {value.strip(chr(34) + chr(39))}"

    return lambda text: keyword.sub(as_flag, text)


class _Reworded(logging.Filter):
    """Rewords each record's message (its arguments merged in) before a handler formats it."""

    def __init__(self, wording: Wording) -> None:
        super().__init__()
        self.wording = wording

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.wording(record.getMessage()), ()
        return True


@contextmanager
def console(wording: Wording) -> Iterator[None]:
    """Progress lines on stdout and the package's warnings as ``mnist-aci: warning: ...`` on stderr, in
    ``wording``."""
    handler = show_progress()
    reworded = _Reworded(wording)
    handler.addFilter(reworded)
    with warnings.catch_warnings():
        show_others = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], *rest: Any, **named: Any) -> None:
            if issubclass(category, MnistAciWarning):
                print(f"mnist-aci: warning: {wording(str(message))}", file=sys.stderr)
            else:
                show_others(message, category, *rest, **named)

        warnings.showwarning = show
        try:
            yield
        finally:
            handler.removeFilter(reworded)
            hide_progress(handler)
