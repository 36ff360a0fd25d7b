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


def expand(query: str) -> str:
    """``query`` followed by the heading and row labels of each statement it names (unchanged if none)."""
    extra = [labels for pattern, labels in STATEMENTS if pattern.search(query)]
    return f"{query}\n{' '.join(extra)}" if extra else query
