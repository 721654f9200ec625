"""NumPy's einsum subscripts (implicit output, '...', the sublist form) made explicit.

The ``einsum`` primitive takes explicit subscripts only, one letter per axis
(``'ab,bc->ac'``); :func:`explicit` turns any subscripts NumPy accepts into that
form for given operand shapes, with NumPy's rules and clear errors.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd.ops.linalg import LETTERS


def sublists(args: Sequence[Any]) -> tuple[str, list[Any]]:
    """NumPy's ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` form as subscripts and operands."""
    def letters(sub: Any) -> str:
        text = ""
        for label in sub:
            if label is Ellipsis:
                text += "..."
            elif isinstance(label, (int, np.integer)) and 0 <= label < len(LETTERS):
                # 0-25 are A-Z, 26-51 a-z: sorted like the labels, as NumPy sorts them.
                text += LETTERS[(int(label) + 26) % 52]
            else:
                raise ValueError(f"einsum: subscript labels must be integers 0-51 or "
                                 f"Ellipsis, got {label!r}")
        return text

    operands, terms = list(args[0::2]), [letters(s) for s in args[1::2]]
    if len(args) % 2:  # a final output sublist
        output = letters(operands.pop())
        return ",".join(terms) + "->" + output, operands
    return ",".join(terms), operands


def normalize(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """NumPy's subscripts (implicit output, '...') as explicit letters, one term per operand."""
    text = subscripts.replace(" ", "")
    where = f"einsum: subscripts {subscripts!r}"
    if text.count("->") > 1:
        raise ValueError(f"{where} have more than one '->'")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"{where} are for {len(terms)} operand(s), {len(shapes)} given")
    for term in [*terms, rhs]:
        rest = term.replace("...", "", 1)
        bad = [c for c in rest if c not in LETTERS]
        if bad:
            raise ValueError(f"{where}: {bad[0]!r} is not a subscript letter (a-z, A-Z) "
                             "and not part of one '...' per term")
    spare = [c for c in LETTERS if c not in text]
    counts = []
    for term, shape in zip(terms, shapes, strict=True):
        named = len(term) - (3 if "..." in term else 0)
        if len(shape) < named or ("..." not in term and len(shape) != named):
            raise ValueError(f"{where}: term {term!r} names {named} dimension(s) of an operand "
                             f"of shape {shape}")
        counts.append(len(shape) - named)
    n_ell = builtins.max(counts, default=0)
    if n_ell > len(spare):
        raise ValueError(f"{where}: too many dimensions under '...' ({n_ell})")
    ell = "".join(spare[:n_ell])
    full = [t.replace("...", ell[n_ell - c:]) for t, c in zip(terms, counts, strict=True)]
    if arrow:
        if "..." in rhs:
            out = rhs.replace("...", ell)
        elif n_ell:
            raise ValueError(f"{where}: the operands have dimensions under '...' but the "
                             "output names none; write '...' in the output")
        else:
            out = rhs
        inputs = set("".join(full))
        for c in out:
            if c not in inputs:
                raise ValueError(f"{where}: output letter {c!r} is not in any input")
            if out.count(c) > 1:
                raise ValueError(f"{where}: output letter {c!r} appears more than once")
    else:
        # Implicit output: '...' first, then the letters used once, in ASCII order.
        named_letters = "".join(t.replace("...", "") for t in terms)
        out = ell + "".join(sorted(c for c in set(named_letters) if named_letters.count(c) == 1))
    return full, out


@functools.lru_cache(maxsize=1024)
def explicit(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> str:
    """The explicit subscripts of a checked call (cached: losses repeat the same calls)."""
    terms, out = normalize(subscripts, list(shapes))
    sizes: dict[str, int] = {}
    for k, (term, shape) in enumerate(zip(terms, shapes, strict=True)):
        seen: dict[str, int] = {}
        for letter, n in zip(term, shape, strict=True):
            if seen.setdefault(letter, n) != n:
                raise ValueError(f"einsum: subscripts {subscripts!r}: letter {letter!r} repeats "
                                 f"in operand {k} (shape {shape}) over sizes {seen[letter]} "
                                 f"and {n}; a diagonal needs equal sizes")
            have = sizes.setdefault(letter, n)
            if have != n and 1 not in (have, n):
                raise ValueError(f"einsum: subscripts {subscripts!r}: letter {letter!r} has "
                                 f"sizes {have} and {n} in operands of shapes {list(shapes)}")
            sizes[letter] = builtins.max(have, n)
    return ",".join(terms) + "->" + out
