"""Arithmetic over cited figures: the model writes one calculation, a safe evaluator computes it.

The model (a coder model) replies in Python: it names each figure it takes from the numbered
evidence, tagged with its sentence, then writes the answer over those names::

    revenue_2017 = n(3, "177,866")
    revenue_2016 = n(3, "135,987")
    answer = (revenue_2017 - revenue_2016) / revenue_2016

(``days(d(1, "November 8th"), d(3, "November 22nd"))`` for dates). The names are substituted, so
what is checked and computed is one expression. With the local model a llama.cpp grammar
(``expression_grammar``) lets it write only figures and dates that occur in the sentence it
names; a hosted model's reply is held to the same rule after the fact. Every operand is checked
against its sentence ("34,229", "$34.2 million", "14th", "2.5%" are read as figures, not as
strings), the expression is computed over its ``ast`` with a whitelist (never ``eval``), and the
answer shows the calculation with each operand cited: "34,229 − 19,232 = 14,997". A table row
is shown to the model with its cells labelled by the years of its header (``table_row``).
"""
from __future__ import annotations

import ast
import copy
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from dateutil import parser as dateparser

from ..config import Settings
from ..generate.base import Declining
from ..generate.prompt import NONE, _literal, arithmetic_messages
from . import tables
from .base import Evidence, Part

log = logging.getLogger(__name__)

MAX_TOKENS = 200  # a handful of named operands and the expression over them
MAX_EXPRESSION_CHARS = 2000
MAX_LINES = 12  # the operands named, then the expression over them
GRAMMAR_LINES = 5  # operands the local model may name before it must write the answer
MAX_NODES = 400
MAX_EXPONENT = 10  # ``**`` only with small exponents: no number the evaluator cannot hold
FUNCTIONS = ("abs", "round", "min", "max", "sum", "mean", "average", "days")

_SCALES = {"thousand": 1e3, "million": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}
# A figure: digits (with thousands separators and decimals) and an ordinal suffix, not part of a
# word ("FY2018", "Q2", "5G") or of a longer number ("229" of "34,229"; "2023" of "Nov 23,2023" is one).
_NUMBER = re.compile(r"(?<![\w.])(?:(?<!\d,)|(?!\d{3}(?!\d)))(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(st|nd|rd|th)?"
                     r"(?!\w)(?!\.\d)(?!,\d{3}(?!\d))")
_CURRENCY = re.compile(r"(US\$|[$€£¥₩]|\b(?:USD|EUR|GBP|JPY|KRW)\b)\s?\(?\s?$")
_AFTER = re.compile(r"\)?(\s?%|\s(?:percent|per cent)\b)?(\s?(?:thousand|million|billion|trillion)\b|(?:bn|mn)\b)?",
                    re.IGNORECASE)
_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
          r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:\s*\((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?\))?"
_YEAR = r"(?:,?\s*(?:19|20)\d{2}(?!\d))?"
# A day of the month alone counts as a date after "on the" ("announced on the 16th"), not in
# "the 3rd ROK-US Civil Space Dialogue".
_DAY_ALONE = r"(?:(?<=[Oo]n the )|(?<=[Bb]y the )|(?<=[Uu]ntil the ))(?:[1-9]|[12]\d|3[01])(?:st|nd|rd|th)"
_DATE = re.compile(
    rf"\b(?:{_MONTH}\s+{_DAY}{_WEEKDAY}{_YEAR}|{_DAY}\s+(?:of\s+)?{_MONTH}{_WEEKDAY}{_YEAR}"
    rf"|(?:19|20)\d{{2}}[-./]\d{{1,2}}[-./]\d{{1,2}}|{_DAY_ALONE})(?![\w-])")
_ASKS_PERCENT = re.compile(r"%|\bper ?cent|\bpercentage\b|\bgrowth rate\b", re.IGNORECASE)
_DIGITS = {"zero": 0, "no": 0, "one": 1, "two": 2, "three": 3, "four": 4}
_ASKS_DECIMALS = re.compile(r"\b(\d|zero|no|one|two|three|four) decimal", re.IGNORECASE)
_ASKS_WHOLE = re.compile(r"\bnearest (?:whole|integer|dollar|million|billion)\b|\bwhole number\b", re.IGNORECASE)
_ASKS_DAYS = re.compile(r"\bdays?\b", re.IGNORECASE)
_YEAR_IN = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
# a part of a whole: at most all of it ("what percent of …", a margin, "capex as a % of revenue")
_ASKS_SHARE = re.compile(r"\bwhat (?:percent(?:age)?|share|portion|fraction|proportion) of\b|\bmargin\b"
                         r"|(?:%|\bpercent(?:age)?) of (?:total |net )?(?:revenues?|sales)\b", re.IGNORECASE)
_ASKS_YEAR = re.compile(r"\b(?:what|which) year\b", re.IGNORECASE)
# A change asked relative to where it started, not in points ("by what percentage", "growth rate")
_ASKS_RELATIVE = re.compile(r"\bpercent(?:age)? (?:change|increase|decrease|growth|decline)|\bby what percent"
                            r"|\bgrowth rate|\brelative\b|\bhow many percent\b", re.IGNORECASE)


class ExpressionError(ValueError):
    """The expression is not one this evaluator computes; ``str()`` says why."""


@dataclass(frozen=True)
class Figure:
    """A number as a sentence writes it: ``written`` is its token ("34,229", "14th", "2.5%"),
    ``shown`` with its currency and scale ("$34.2 million"); ``value`` is scaled (34.2e6)."""

    written: str
    shown: str
    value: float
    decimals: int
    currency: str = ""
    scale: str = ""
    percent: bool = False
    ordinal: bool = False


def figures(text: str) -> list[Figure]:
    """The figures of ``text`` in order."""
    out = []
    for m in _NUMBER.finditer(text):
        whole, fraction, ordinal = m.group(1), m.group(2) or "", m.group(3) or ""
        before = text[max(0, m.start() - 8):m.start()]
        currency = (_CURRENCY.search(before) or [None, ""])[1] if not ordinal else ""
        after = _AFTER.match(text, m.end())
        percent = bool(after.group(1)) and not ordinal
        scale = (after.group(2) or "").strip().lower() if not (ordinal or percent) else ""
        written = whole + fraction + ordinal + ("%" if after.group(1) == "%" else "")
        shown = f"{currency}{whole}{fraction}{ordinal}{'%' if percent else ''}{' ' + scale if scale else ''}"
        value = float(whole.replace(",", "") + fraction) * _SCALES.get(scale, 1.0)
        out.append(Figure(written, shown, value, len(fraction) - 1 if fraction else 0, currency, scale, percent,
                          bool(ordinal)))
    return out


def _scale_free(f: Figure) -> float:
    return f.value / _SCALES.get(f.scale, 1.0)


def find_figure(written: str, sentence: str) -> tuple[Figure, float] | None:
    """The figure of ``sentence`` that ``written`` (as the model wrote it: "34,229", "$34.2 million",
    "-1,577", "2.5 percent") names, and the value it stands for: negative only when written with a
    minus, not for a statement's parentheses ("(5,207)" of capital spending is 5,207 spent: the
    expression's own minus says how it counts); None if the sentence has no such figure."""
    wanted = figures(written)
    if len(wanted) != 1 or re.sub(r"[^\d]", "", written) != re.sub(r"[^\d]", "", wanted[0].written):
        return None
    w = wanted[0]
    for f in figures(sentence):
        if (math.isclose(_scale_free(f), _scale_free(w), rel_tol=1e-12) and (not w.scale or w.scale == f.scale)
                and (not w.percent or f.percent) and (not w.currency or w.currency == f.currency)):
            sign = -1.0 if re.match(r"\s*[-−–]", written) else 1.0
            return f, sign * f.value
    return None


def dates(text: str) -> list[str]:
    """The dates of ``text`` as written ("November 8th (Wed.) 2023", "Nov 23,2023", "on the 14th" as
    "14th"); each has at least a day."""
    return [m.group() for m in _DATE.finditer(text) if _date_parts(m.group())[2] is not None]


def _date_parts(written: str) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of a written date, None for a part it does not give."""
    clean = re.sub(r"\((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?\)", " ", written)
    clean = re.sub(r"\bof\b", " ", re.sub(r",(?=\d{4})", ", ", clean))
    try:
        a = dateparser.parse(clean, default=datetime(2000, 1, 1))
        b = dateparser.parse(clean, default=datetime(2004, 3, 3))  # leap years, 31-day months
    except (ValueError, OverflowError):
        return None, None, None
    return (a.year if a.year == b.year else None, a.month if a.month == b.month else None,
            a.day if a.day == b.day else None)


def _is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def parse(expression: str) -> ast.expr:
    """The expression's syntax tree, after checking that it holds only what ``evaluate`` computes:
    numbers, + - * / ** (small exponent), unary minus, parentheses, ``abs``, ``round``, ``min``,
    ``max``, ``sum``, ``mean``/``average`` (over listed operands), the operands ``n(i, "figure")``
    and ``days(d(i, "date"), d(j, "date"))``. Anything else raises ``ExpressionError``.

    The expression may be written as a few lines that name its operands first
    (``sales_2021 = n(2, "5,310")`` ... ``answer = (sales_2021 - sales_2020) / sales_2020``): each
    name is replaced by what it names, so what is checked and computed is one expression."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ExpressionError("the expression is too long")
    try:
        statements = ast.parse(expression.strip(), mode="exec").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"not an expression: {exc}") from None
    if not statements or len(statements) > MAX_LINES:
        raise ExpressionError(f"one expression, or at most {MAX_LINES} lines naming its operands")
    named: dict[str, ast.expr] = {}
    for i, statement in enumerate(statements):
        if isinstance(statement, ast.Expr) and i == len(statements) - 1:
            value = statement.value
        elif (isinstance(statement, ast.Assign) and len(statement.targets) == 1
              and isinstance(statement.targets[0], ast.Name)):
            value = statement.value
        else:
            raise ExpressionError(f"line {i + 1} is not an expression or name = expression "
                                  f"({ast.unparse(statement)[:40]!r})")
        for node in ast.walk(value):
            if not isinstance(node, _SYNTAX):
                raise ExpressionError(f"{type(node).__name__} is not allowed in an expression "
                                      f"({ast.unparse(node)[:40]!r})")
        if isinstance(statement, ast.Assign) and isinstance(value, ast.Call) and getattr(value.func, "id", "") == "n":
            years = set(_YEAR_IN.findall(statement.targets[0].id))
            if len(years) == 1:  # "endowment_2009 = n(3, …)": the figure the sentence gives for 2009
                value.year = int(years.pop())
        tree = _Substitute(named).visit(value)
        if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
            raise ExpressionError("the expression is too long")
        if isinstance(statement, ast.Assign):
            named[statement.targets[0].id] = tree
    _check(tree)
    return tree


# The syntax an expression may use at all (``_check`` says where): no attributes, subscripts,
# comprehensions, lambdas, comparisons or keywords.
_SYNTAX = (ast.BinOp, ast.UnaryOp, ast.Constant, ast.Call, ast.Name, ast.List, ast.Tuple, ast.expr_context,
           ast.operator, ast.unaryop)


class _Substitute(ast.NodeTransformer):
    """Replaces each name (not a function's) by a copy of the expression it was given."""

    def __init__(self, named: dict[str, ast.expr]):
        self.named = named

    def visit_Call(self, node: ast.Call) -> ast.Call:
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id not in self.named:  # "Symposium_2" for "symposium_2" is a slip, not another name
            alike = [name for name in self.named if name.lower() == node.id.lower()]
            if len(alike) != 1:
                raise ExpressionError(f"{node.id} is not defined")
            node.id = alike[0]
        return copy.deepcopy(self.named[node.id])


def _check(node: ast.AST, inside: str = "") -> None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        _check(node.operand)
    elif _is_number(node):
        pass
    elif isinstance(node, (ast.List, ast.Tuple)) and inside in ("min", "max", "sum", "mean", "average"):
        for item in node.elts:
            _check(item)
    elif isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in (*FUNCTIONS, "n"):
            raise ExpressionError(f"{ast.unparse(node.func)[:40]}(...) is not allowed: use n(), days(d(), d()), "
                                  f"{', '.join(f for f in FUNCTIONS if f != 'days')}")
        args = node.args
        if name == "n":
            if not (len(args) == 2 and isinstance(args[0], ast.Constant) and type(args[0].value) is int
                    and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str)):
                raise ExpressionError('an operand is written n(sentence number, "figure")')
        elif name == "days":
            if len(args) != 2 or not all(
                    isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "d" and len(a.args) == 2
                    and isinstance(a.args[0], ast.Constant) and type(a.args[0].value) is int
                    and isinstance(a.args[1], ast.Constant) and isinstance(a.args[1].value, str) for a in args):
                raise ExpressionError('days() takes two dates: days(d(i, "date"), d(j, "date"))')
        elif name == "round":
            if not 1 <= len(args) <= 2 or (len(args) == 2 and not (
                    isinstance(args[1], ast.Constant) and type(args[1].value) is int and 0 <= args[1].value <= 10)):
                raise ExpressionError("round() takes a value and at most 10 digits")
            _check(args[0])
        elif name == "abs":
            if len(args) != 1:
                raise ExpressionError("abs() takes one value")
            _check(args[0])
        else:  # min, max, sum, mean, average: listed operands
            if not args or (len(args) == 1 and not isinstance(args[0], (ast.List, ast.Tuple))):
                raise ExpressionError(f"{name}() takes the operands it combines")
            for a in args:
                _check(a, name)
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression "
                              f"({ast.unparse(node)[:40]!r})")


@dataclass(frozen=True)
class Operand:
    """A figure an expression cites, the sentence it cites it from and the value it stands for."""

    sentence: int  # 0-based index into the sentences
    figure: Figure
    value: float


def evaluate(tree: ast.expr, operand: Callable[[ast.Call], float] | None = None,
             day_count: Callable[[ast.Call], float] | None = None) -> float:
    """The value of a tree ``parse`` accepted; ``operand`` gives an ``n(...)`` call's value and
    ``day_count`` a ``days(...)`` call's. Raises ``ZeroDivisionError`` and ``ExpressionError``."""
    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            return -value(node.operand) if isinstance(node.op, ast.USub) else value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                result = left + right
            elif isinstance(node.op, ast.Sub):
                result = left - right
            elif isinstance(node.op, ast.Mult):
                result = left * right
            elif isinstance(node.op, ast.Div):
                result = left / right
            else:
                if abs(right) > MAX_EXPONENT:
                    raise ExpressionError(f"exponent {right:g} is too large (at most {MAX_EXPONENT})")
                try:
                    result = left ** right
                except OverflowError:
                    raise ExpressionError("the power is too large") from None
                if isinstance(result, complex):
                    raise ExpressionError("a fractional power of a negative number")
            if not math.isfinite(result):
                raise ExpressionError("the result is too large")
            return result
        name = node.func.id
        if name == "n":
            if operand is None:
                raise ExpressionError("n() needs evidence")
            return operand(node)
        if name == "days":
            if day_count is None:
                raise ExpressionError("days() needs evidence")
            return day_count(node)
        items = [value(a) for a in (node.args[0].elts if isinstance(node.args[0], (ast.List, ast.Tuple))
                                    else node.args)] if name not in ("round",) else []
        if name == "round":
            return float(round(value(node.args[0]), node.args[1].value if len(node.args) == 2 else 0))
        if not items:
            raise ExpressionError(f"{name}() of nothing")
        if name == "abs":
            return abs(items[0])
        if name == "min":
            return min(items)
        if name == "max":
            return max(items)
        if name == "sum":
            return math.fsum(items)
        return math.fsum(items) / len(items)  # mean, average

    return value(tree)


@dataclass(frozen=True)
class Calculation:
    """A computed expression: its value, the result as shown ("14,997", "2 days", "30.8%"), the
    calculation as shown ("34,229 − 19,232 = 14,997") and the sentences it cites (0-based, in
    order of first use)."""

    value: float
    result: str
    text: str
    sources: tuple[int, ...]


def calculate(expression: str, sentences: Sequence[str], question: str = "",
              documents: Sequence[str] = (), scales: Sequence[str] = (), labelled: Sequence[str] = ()) -> Calculation | None:
    """Compute ``expression`` over ``sentences`` (numbered from 1 in it; ``documents``: the
    document each is from). None when an operand is not a figure or date of the sentence it
    names, a bare number is not one of the question's, the days between a date and itself are
    asked, a date without its month or year would take them from another document's, or it
    divides by zero; ``ExpressionError`` when the expression is not one ``parse`` accepts.
    ``scales``: the unit a table states for each sentence's figures ("thousand"; "" for none);
    ``labelled``: each sentence as the model read it, a table row's cells labelled with their years."""
    tree = parse(expression)
    allowed = {float(c) for c in _constants(question)}
    operands: dict[int, Operand] = {}

    def operand(call: ast.Call) -> float:
        number, written = call.args[0].value, call.args[1].value
        found = find_figure(written, sentences[number - 1]) if 1 <= number <= len(sentences) else None
        if found is None:
            raise _Rejected(f"{written!r} is not a figure of sentence {number}")
        if (year := getattr(call, "year", None)) is not None:
            found = _for_year(found, year, (labelled or sentences)[number - 1])
        scale = scales[number - 1] if number <= len(scales) else ""
        if scale and not (found[0].scale or found[0].percent or found[0].ordinal):  # "5,466,312" of a table in thousands
            found = (replace(found[0], scale=scale, value=found[0].value * _SCALES[scale],
                             shown=f"{found[0].shown} {scale}"), found[1] * _SCALES[scale])
        operands[id(call)] = Operand(number - 1, *found)
        return found[1]

    def day_count(call: ast.Call) -> float:
        (start, end), parts = call.args, []
        for d in (start, end):
            number, written = d.args[0].value, d.args[1].value
            if not 1 <= number <= len(sentences):
                raise _Rejected(f"there is no sentence {number}")
            mentioned = {_date_parts(w) for w in dates(sentences[number - 1])}
            got = _date_parts(written)
            if got[2] is None or not any(_same_date(got, m) for m in mentioned):
                raise _Rejected(f"{written!r} is not a date of sentence {number}")
            parts.append((got, number - 1))
        (a, i), (b, j) = parts
        if a == b and i == j:
            raise _Rejected("the days between a date and itself")
        if documents and documents[i] != documents[j] and None in (*a, *b):
            raise _Rejected("a date would take its month or year from another document's")
        year = _YEAR_IN.search(sentences[i] + " " + sentences[j])
        fallback = (int(year.group()) if year else date.today().year, 1)
        first = date(a[0] or b[0] or fallback[0], a[1] or b[1] or fallback[1], a[2])
        second = date(b[0] or a[0] or fallback[0], b[1] or a[1] or fallback[1], b[2])
        for node, n in ((start, i), (end, j)):
            operands[id(node)] = Operand(n, Figure(node.args[1].value, _tidy_date(node.args[1].value), 0.0, 0), 0.0)
        if second < first:  # the days between them, shown later minus earlier
            call.args = [end, start]
        return float(abs((second - first).days))

    if not any(isinstance(node, ast.Call) and node.func.id in ("n", "days") for node in ast.walk(tree)):
        log.debug("rejected %r: it cites no figure", expression)
        return None
    if reads_one_figure(question) and not _is_figure(tree):
        log.debug("rejected %r: the question asks for one figure", expression)
        return None
    for node in ast.walk(tree):
        if _is_number(node) and not _is_literal_argument(tree, node) and float(node.value) not in allowed:
            log.debug("rejected %r: %s is not a number of the question", expression, node.value)
            return None
    try:
        value = evaluate(tree, operand, day_count)
    except _Rejected as exc:
        log.debug("rejected %r: %s", expression, exc)
        return None
    except ZeroDivisionError:
        log.debug("rejected %r: division by zero", expression)
        return None
    except ValueError as exc:  # an impossible date (day 31 of a 30-day month)
        if isinstance(exc, ExpressionError):
            raise
        log.debug("rejected %r: %s", expression, exc)
        return None
    # the figures the operands stand for, once each read for the year it was named for: "1,192 + 1,192", "x − x",
    # one cell named for two years that its row does not tell apart (a cell it does is read for each year)
    if any(isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)) and id(node.left) in operands
           and id(node.right) in operands and operands[id(node.left)] == operands[id(node.right)] for node in ast.walk(tree)):
        log.debug("rejected %r: a figure added to or taken from itself", expression)
        return None
    if any(isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)) and id(node.left) in operands
           and id(node.right) in operands and operands[id(node.left)].figure.percent
           != operands[id(node.right)].figure.percent for node in ast.walk(tree)):
        log.debug("rejected %r: a percentage added to or taken from an amount", expression)  # "8% − $10.4 billion"
        return None
    if _relative_change_of_rates(tree, operands) and not _ASKS_RELATIVE.search(question):
        tree = tree.left  # "how much did the tax rate change": in percentage points, not a ratio of two rates
        value = evaluate(tree, operand, day_count)
    share = _ASKS_SHARE.search(question)
    if share and _has(tree, ast.Div) and not (-1e-9 if "margin" not in share.group().lower() else -math.inf) <= value <= (
            100 if _scaled_by_100(tree) else 1) + 1e-9:  # a margin may be a loss
        log.debug("rejected %r: a share of a whole is %g", expression, value)  # "what percent of … occurred in Q4"
        return None
    if _ASKS_YEAR.search(question) and not (value.is_integer() and 1000 <= value <= 2100):
        log.debug("rejected %r: %g is not a year", expression, value)  # "70th" for "in what year…?"
        return None
    figs = [o.figure for o in operands.values()]
    if (value < 0 and isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Sub) and figs
            and all(f.ordinal for f in figs) and _ASKS_DAYS.search(question)):
        tree.left, tree.right, value = tree.right, tree.left, -value  # "the 14th − the 16th": two days
    cited = tuple(dict.fromkeys(operands[id(n)].sentence for n in _in_order(tree) if id(n) in operands))
    result = _format_result(tree, value, operands, question)
    shown = _render(tree, operands)
    single = _is_figure(tree) and shown == result
    text = result if single else f"{shown} = {result}"
    return Calculation(value, result, text, cited)


def _relative_change_of_rates(tree: ast.AST, operands: dict) -> bool:
    """Whether ``tree`` is ``(a - b) / b`` over two cited percentages (a change relative to a rate)."""
    if not (isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Div) and isinstance(tree.left, ast.BinOp)
            and isinstance(tree.left.op, ast.Sub)):
        return False
    sides = (tree.left.left, tree.left.right)
    return (all(_is_figure(n) and id(n) in operands and operands[id(n)].figure.percent for n in sides)
            and any(ast.dump(tree.right) == ast.dump(n) for n in sides))


def _in_order(node: ast.AST):
    """The nodes of ``node`` as the calculation reads, left to right."""
    yield node
    children = list(ast.iter_child_nodes(node))
    if isinstance(node, ast.Call) and node.func.id == "days":
        children = children[:0:-1]  # shown later date first: "November 22nd − November 8th"
    for child in children:
        yield from _in_order(child)


def year_labels(sentence: str) -> list[tuple[Figure, int | None]]:
    """Each figure of ``sentence`` (years themselves left out) with the year the sentence gives it:
    the year just before it in a table row ("2021: 5,310"), else the first year after it and before
    the next figure ("$26 billion in 2009", "$28 billion in September 2010")."""
    found = [(m, f) for m, f in zip(_NUMBER.finditer(sentence), figures(sentence))
             if not (_YEAR_IN.fullmatch(f.written) and not f.currency and not f.scale)]
    out = []
    for i, (m, f) in enumerate(found):
        before = sentence[found[i - 1][0].end() if i else 0:m.start()]
        after = sentence[m.end():found[i + 1][0].start() if i + 1 < len(found) else len(sentence)]
        row = re.search(r"((?:19|20)\d{2})\s*:\s*(?:[^\w\s]\s*){0,2}$", before)  # "2019: $ 4,713,500", "2023: (762)"
        later = _YEAR_IN.search(after)
        out.append((f, int(row.group(1)) if row else int(later.group()) if later else None))
    return out


def _for_year(found: tuple[Figure, float], year: int, sentence: str) -> tuple[Figure, float]:
    """The figure an operand named for ``year`` stands for: the one the model wrote, unless the
    sentence gives that one another year and exactly one other figure this year (a small model
    reads "$32 billion in 2011, up from $28 billion in 2010 and $26 billion in 2009" off by one)."""
    labels = year_labels(sentence)
    given = [y for f, y in labels if f == found[0]]
    mine = [f for f, y in labels if y == year]
    if not given or given[0] in (None, year) or len(mine) != 1:
        return found
    log.debug("operand for %s: %s, not %s (which the sentence gives %s)", year, mine[0].shown, found[0].shown, given[0])
    return mine[0], mine[0].value * (-1.0 if found[1] < 0 else 1.0)


class _Rejected(Exception):
    """An operand that is not in the sentence it cites (the expression is rejected, not an error)."""


def _same_date(a: tuple, b: tuple) -> bool:
    return all(x is None or y is None or x == y for x, y in zip(a, b)) and a[2] == b[2]


def _tidy_date(written: str) -> str:
    clean = re.sub(r"\s*\((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?\)", "", written)
    return re.sub(r",(?=\d{4})", ", ", clean)


# What makes a question about an amount a calculation rather than one figure read off a statement
_OPERATION = re.compile(r"\b(?:ratio|rates?|growth|grow|chang\w*|increas\w*|decreas\w*|differen\w*|average|mean|sum"
                        r"|combined|margin|turnover|per|percent\w*|defined|calculat\w*|comput\w*|between|less|minus"
                        r"|plus|divided|times|days|years|how many)\b|%", re.IGNORECASE)


def reads_one_figure(question: str) -> bool:
    """Whether ``question`` asks for an amount in a unit and for no operation on it ("What is the year end
    FY2019 total amount of inventories? Answer in USD millions."): the answer is one cited figure."""
    return bool(tables.asked_scale(question)) and not _OPERATION.search(question)


def _is_figure(node: ast.AST) -> bool:
    """Whether ``node`` is a cited figure, ``n(i, "figure")``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "n"


def _is_literal_argument(tree: ast.AST, node: ast.AST) -> bool:
    """Whether ``node`` is a sentence number, a ``round`` digit count or an exponent: no figure."""
    for parent in ast.walk(tree):
        if isinstance(parent, ast.Call) and parent.func.id in ("n", "d") and node is parent.args[0]:
            return True
        if isinstance(parent, ast.Call) and parent.func.id == "round" and node in parent.args[1:]:
            return True
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow) and node is parent.right:
            return True
    return False


_PRECEDENCE = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2, ast.Pow: 4}
_SYMBOL = {ast.Add: "+", ast.Sub: "−", ast.Mult: "×", ast.Div: "÷", ast.Pow: "^"}


def _render(node: ast.AST, operands: dict[int, Operand]) -> str:
    """The calculation for people: operands as their sentences write them, − × ÷."""
    def show(n: ast.AST) -> tuple[str, int]:
        if isinstance(n, ast.Constant):
            return f"{n.value:,}", 9
        if isinstance(n, ast.UnaryOp):
            inner, p = show(n.operand)
            if isinstance(n.op, ast.UAdd):
                return inner, p
            return f"−{inner if p >= 3 else f'({inner})'}", 3
        if isinstance(n, ast.BinOp):
            p = _PRECEDENCE[type(n.op)]
            left, lp = show(n.left)
            right, rp = show(n.right)
            if lp < p or (lp == p and isinstance(n.op, ast.Pow)):
                left = f"({left})"
            if rp < p or (rp == p and not isinstance(n.op, (ast.Add, ast.Mult))):
                right = f"({right})"
            return f"{left} {_SYMBOL[type(n.op)]} {right}", p
        name = n.func.id
        if name == "n":
            return operands[id(n)].figure.shown, 9
        if name == "days":
            a, b = (operands[id(d)].figure.shown for d in n.args)
            return f"{b} − {a}", 1
        items = n.args[0].elts if len(n.args) == 1 and isinstance(n.args[0], (ast.List, ast.Tuple)) else n.args
        shown = [show(i)[0] for i in items]
        if name in ("sum", "mean", "average"):
            total = " + ".join(s if show(i)[1] > 1 else f"({s})" for s, i in zip(shown, items))
            return (f"({total}) ÷ {len(items)}", 2) if name != "sum" and len(items) > 1 else (total, 1)
        if name == "abs":
            return f"|{shown[0]}|", 9
        if name == "round":  # the result is shown rounded
            return show(items[0])
        return f"{'the smaller' if name == 'min' else 'the larger'} of {', '.join(shown[:-1])} and {shown[-1]}", 9

    return show(node)[0]


def _has(tree: ast.AST, *ops: type) -> bool:
    return any(isinstance(n, ast.BinOp) and isinstance(n.op, ops) for n in ast.walk(tree))


def _scaled_by_100(tree: ast.AST) -> bool:
    """Whether the model wrote its ratio in percent itself ("… * 100", rounded or not)."""
    while isinstance(tree, ast.Call) and tree.func.id == "round":
        tree = tree.args[0]
    return (isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult)
            and any(isinstance(s, ast.Constant) and s.value == 100 for s in (tree.left, tree.right)))


def _format_result(tree: ast.AST, value: float, operands: dict[int, Operand], question: str) -> str:
    """The result as people write it: thousands separators, the operands' decimals (or the question's),
    % for a ratio the question asks in %, the operands' currency and scale for a sum or difference,
    days for a count of days."""
    figs = [o.figure for o in operands.values()]
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)}
    if "days" in calls or (figs and all(f.ordinal for f in figs) and _ASKS_DAYS.search(question)):
        count = round(value)
        return f"{'−' if count < 0 else ''}{abs(count):,} day{'' if abs(count) == 1 else 's'}"
    ratio = _has(tree, ast.Div, ast.Mult, ast.Pow)
    percent = _has(tree, ast.Div) and bool(_ASKS_PERCENT.search(question))
    currency, unit, shown = "", "", value
    asked, rescaled = tables.asked_scale(question), False
    if percent:
        shown, unit = (value if _scaled_by_100(tree) else value * 100), "%"
    elif not ratio and len({(f.scale, f.percent) for f in figs}) == 1 and len({f.currency for f in figs} - {""}) <= 1:
        # a table writes its currency on the first and the total rows only: "$ 2,822,795", "536,245"
        currency, scale, pct = next((f.currency for f in figs if f.currency), ""), figs[0].scale, figs[0].percent
        if asked and scale and scale != asked and not pct:  # "in USD millions" of a table in thousands
            scale, rescaled = asked, True
        shown = value / _SCALES.get(scale, 1.0)
        unit = (" percentage points" if _has(tree, ast.Sub) else "%") if pct else (f" {scale}" if scale else "")
    asked = _ASKS_DECIMALS.search(question)
    if asked:
        word = asked.group(1).lower()
        decimals = int(word) if word.isdigit() else _DIGITS[word]
    elif _ASKS_WHOLE.search(question):
        decimals = 0
    elif rescaled:  # 5,466,312 thousand is 5,466 million; 8,738 million is 8.74 billion
        decimals = min(2, max(0, 4 - len(str(int(abs(shown))))))
    else:
        most = max((f.decimals for f in figs), default=0)
        if not (ratio or calls & {"mean", "average"}):
            decimals = most  # a sum or difference keeps its operands' decimals
        else:
            decimals = 0 if abs(shown - round(shown)) < 1e-9 and not percent else max(most, 1 if percent else 2)
    year = decimals == 0 and any(_YEAR_IN.fullmatch(f.written) for f in figs)  # 2023 − 70 = 1953, not 1,953
    text = f"{abs(shown):{'' if year else ','}.{decimals}f}"
    sign = "−" if shown < 0 and float(text.replace(",", "")) != 0 else ""
    return f"{sign}{currency}{text}{unit}"


def _constants(question: str) -> list[str]:
    """The bare numbers an expression may hold besides cited figures: the question's own (not its
    years), 2 (the average of two) and, for a percentage, 100."""
    found = {f.written.rstrip("%").replace(",", "") for f in figures(question)
             if not f.ordinal and not _YEAR_IN.fullmatch(f.written)}
    return sorted(found | {"2"} | ({"100"} if _ASKS_PERCENT.search(question) else set()), key=float)


def expression_grammar(sentences: Sequence[str], question: str = "") -> str | None:
    """A llama.cpp grammar (GBNF) for a few lines naming operands, then ``answer = `` an expression,
    over the figures and dates of ``sentences``: ``n(i, "figure")`` only with a figure of sentence i
    (a year only when the question asks about years), ``d(i, "date")`` only with a date of it, bare
    numbers only ``_constants``, at most two levels of parentheses and a few terms each (no runaway
    reply); or ``none``. None when the sentences hold no figure."""
    years = bool(re.search(r"\byears?\b", question, re.IGNORECASE))
    rules: dict[str, str] = {}
    refs, date_refs = [], []
    for i, sentence in enumerate(sentences, 1):
        written = sorted({f.written for f in figures(sentence) if years or not _YEAR_IN.fullmatch(f.written)})
        if written:
            rules[f"n{i}"] = " | ".join(_literal(w) for w in written)
            refs.append(f'"{i}, \\"" n{i} "\\""')
        said = sorted(set(dates(sentence)))
        if said:
            rules[f"d{i}"] = " | ".join(_literal(w) for w in said)
            date_refs.append(f'"{i}, \\"" d{i} "\\""')
    if not refs and not date_refs:
        return None
    atoms = []
    if refs:
        atoms.append('"n(" ref ")"')
        rules["ref"] = " | ".join(refs)
    if date_refs:
        atoms.append('"days(" date ", " date ")"')
        rules["date"] = '"d(" dref ")"'
        rules["dref"] = " | ".join(date_refs)
    atoms += [_literal(c) for c in _constants(question)]
    if date_refs:
        atoms.append('"days(" name ", " name ")"')
    atoms.append("name")
    one = ' | name " = n(" ref ")\\n" "answer = " name' if reads_one_figure(question) and refs else ""
    head = {"root": f'"{NONE}"' + (one or f' | (line "\\n"){{0,{GRAMMAR_LINES}}} "answer = " expr0'),
            "line": 'name " = " (expr0' + (' | "d(" dref ")")' if date_refs else ")"),
            "name": "[a-z] [a-z0-9_]{0,30}",
            "atom": " | ".join(atoms), "add": '" + " | " - "', "mul": '" * " | " / "',
            "many": '"sum" | "mean" | "min" | "max"'}
    for level in range(3):
        inner = f"expr{level + 1}"
        nested = (f' | "(" {inner} ")" | "abs(" {inner} ")" | many "(" {inner} (", " {inner}){{1,5}} ")"'
                  f' | "round(" {inner} ", " [0-4] ")"' if level < 2 else "")
        head[f"expr{level}"] = f"term{level} (add term{level}){{0,4}}"
        head[f"term{level}"] = f"factor{level} (mul factor{level}){{0,3}}"
        head[f"factor{level}"] = f'"-"? (atom{nested})'
    return "\n".join(f"{name} ::= {body}" for name, body in {**head, **rules}.items())


def _reply_program(reply: str) -> str:
    """The expression (or the lines naming its operands) in a model's reply; a hosted model may fence
    it in Markdown."""
    fenced = re.search(r"```(?:python)?\s*\n?(.*?)```", reply, re.DOTALL)
    return (fenced.group(1) if fenced else reply).strip()


def table_row(e: Evidence) -> str:
    """The evidence sentence as the model reads it: a table row with its cells labelled by the years
    of its header (``tables.table_row``); other sentences as they are."""
    return tables.table_row(e.passage.text, e.parent.text, e.sentence.start)


def solve(question: str, evidence: Sequence[Evidence], backend, settings: Settings) -> list[Part] | None:
    """The answer to an arithmetic ``question`` as one checked calculation over ``evidence``
    (numbered 1..n as the model sees it): ``[Part("34,229 − 19,232 = 14,997", (1, 0), "14,997")]``;
    None when the model declines, or its expression cites a figure its sentence does not hold,
    divides by zero or is not a plain calculation. A calculation refused over the evidence of
    several documents is asked once more over the best sentence's document alone."""
    if not evidence or not hasattr(backend, "chat"):
        return None
    parts, refused = _attempt(question, evidence, backend, settings)
    if parts is None and refused and len({e.passage.doc_id for e in evidence}) > 1:
        best = max(evidence, key=lambda e: e.sentence.score).passage.doc_id
        kept = [i for i, e in enumerate(evidence) if e.passage.doc_id == best]
        parts, _ = _attempt(question, [evidence[i] for i in kept], backend, settings)
        parts = parts and [replace(p, sources=tuple(kept[s] for s in p.sources)) for p in parts]
    return parts


def _attempt(question: str, evidence: Sequence[Evidence], backend,
             settings: Settings) -> tuple[list[Part] | None, bool]:
    """``(parts, refused)``: the checked calculation, or None and whether a reply was refused
    (rather than declined by the model or impossible for want of figures)."""
    sentences = [e.passage.text for e in evidence]
    grammar = expression_grammar(sentences, question)
    if grammar is None:
        return None, False
    budget = int(min(backend.context_window, settings.n_ctx) * backend.prompt_share) - MAX_TOKENS
    messages = arithmetic_messages(question, [replace(e.passage, text=table_row(e)) for e in evidence], budget)
    options = {"grammar": grammar} if getattr(backend, "takes_grammar", False) else {}
    reply = "".join(p for p in backend.chat(messages, settings, MAX_TOKENS, **options) if not isinstance(p, Declining))
    expression = _reply_program(reply)
    log.debug("arithmetic reply %r", reply)
    if not expression or expression.strip().lower().rstrip(".") == NONE:
        return None, False
    parts = computed(expression, question, evidence)
    return parts, parts is None


def computed(expression: str, question: str, evidence: Sequence[Evidence]) -> list[Part] | None:
    """``expression`` (its figures numbered by ``evidence``) calculated and checked as ``calculate``
    does, as the answer's one part; None when it does not hold."""
    try:
        calculation = calculate(expression, [e.passage.text for e in evidence], question,
                                [e.passage.doc_id for e in evidence],
                                [tables.table_scale(e.parent.text, e.sentence.start) for e in evidence],
                                [table_row(e) for e in evidence])
    except ExpressionError as exc:
        log.debug("arithmetic expression %r refused: %s", expression, exc)
        return None
    return None if calculation is None else [Part(calculation.text, calculation.sources, calculation.result)]
