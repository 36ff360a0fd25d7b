"""Statement-aware queries: a question that names a financial statement ("shown in the cash flow
statement", "the balance sheet", "the P&L") is searched with that statement's heading and its
typical row labels too. Tables keep their row labels but rarely the words a question uses, so
the labels are what finds the statement's page, by both BM25 and meaning.

General accounting vocabulary only (the standard names and subtotals of the three statements);
a question that names no statement is searched as asked.
"""
from __future__ import annotations

import re

STATEMENTS = (
    (re.compile(r"\bbalance sheets?\b|\bstatements? of financial (?:position|condition)\b", re.IGNORECASE),
     "consolidated balance sheets total current assets total assets total current liabilities total liabilities "
     "shareholders equity"),
    (re.compile(r"\bcash[- ]flows? statements?\b|\bstatements? of cash[- ]flows?\b", re.IGNORECASE),
     "consolidated statements of cash flows net cash provided by operating activities investing activities "
     "financing activities depreciation and amortization"),
    (re.compile(r"\bincome statements?\b|\bstatements? of (?:income|operations|earnings)\b|\bP\s*&\s*L\b"
                r"|\bprofit and loss\b", re.IGNORECASE),
     "consolidated statements of income operations net revenues cost of sales operating income net income"),
)

# Standard abbreviations, the words of their statements' row labels (searched with them) and the row a
# reader looks for ("capex" is "Purchases of property, plant and equipment" in a cash flow statement).
TERMS = (
    (re.compile(r"\bcapex\b|\bcapital (?:expenditures?|spending)\b", re.IGNORECASE),
     "purchases of property plant and equipment capital expenditures",
     "the cash flow statement's purchases of property, plant and equipment (or capital spending)"),
    (re.compile(r"\bPP\s*&\s*E\b|\bPPNE\b", re.IGNORECASE), "property plant and equipment net",
     "property, plant and equipment, net"),
    (re.compile(r"\bD\s*&\s*A\b"), "depreciation and amortization", "depreciation and amortization"),
    (re.compile(r"\bCOGS\b"), "cost of goods sold cost of sales", "cost of goods sold (or cost of sales)"),
    (re.compile(r"\bSG\s*&\s*A\b"), "selling general and administrative expenses",
     "selling, general and administrative expenses"),
    (re.compile(r"\bR\s*&\s*D\b"), "research and development expenses", "research and development expenses"),
    (re.compile(r"\bEBITDA\b"), "operating income depreciation and amortization",
     "operating income plus depreciation and amortization"),
    (re.compile(r"\bEPS\b"), "earnings per share", "earnings per share"),
)


def abbreviations(query: str) -> list[str]:
    """The row labels of the abbreviations ``query`` uses ("capex" → "purchases of property plant …")."""
    return [labels for pattern, labels, _ in TERMS if pattern.search(query)]


def terms(query: str) -> str:
    """The row labels of the statements and the abbreviations ``query`` names, one string ("" if none)."""
    return " ".join([labels for pattern, labels in STATEMENTS if pattern.search(query)] + abbreviations(query))


def glossary(query: str) -> list[str]:
    """What each abbreviation ``query`` uses stands for in a statement ("capex: the cash flow
    statement's purchases of property, plant and equipment …"), for a model reading the rows."""
    return [f"{m.group()}: {row}" for pattern, _, row in TERMS if (m := pattern.search(query))]


def expand(query: str) -> str:
    """``query`` followed by the heading and row labels of each statement and abbreviation it names
    (unchanged if none)."""
    extra = terms(query)
    return f"{query}\n{extra}" if extra else query
