"""Statement-aware queries (rag.statements)."""
import pytest

from rag.statements import expand, glossary


@pytest.mark.parametrize("question,label", [
    ("Base your judgments on the information provided primarily in the balance sheet.", "total current liabilities"),
    ("Using the cash flow statement, how much cash came from operations?", "net cash provided by operating activities"),
    ("Relying on the statement of cash flows, what was capex?", "investing activities"),
    ("What restructuring costs are outlined in the income statements?", "operating income"),
    ("Use the line items shown in the statement of income.", "net revenues"),
    ("What does the P&L say about cost of sales?", "operating income"),
    ("Consolidated Statements of Operations: what was revenue?", "net income"),
])
def test_a_named_statement_adds_its_heading_and_row_labels(question, label):
    expanded = expand(question)
    assert expanded.startswith(question + "\n") and label in expanded


def test_two_statements_add_both_and_none_leaves_the_question_alone():
    both = expand("From the income statement and the cash flow statement, what is EBITDA?")
    assert "cost of sales" in both and "financing activities" in both
    for question in ("Who signed the agreement?", "What is the statement of the minister?", "a sheet of balance"):
        assert expand(question) == question


def test_an_abbreviation_is_glossed_with_the_row_a_statement_gives_it():
    assert glossary("What was 3M's FY2018 capex?") == [
        "capex: the cash flow statement's purchases of property, plant and equipment (or capital spending)"]
    assert "purchases of property plant and equipment" in expand("What was capital expenditure?")
    assert glossary("Who signed the agreement?") == []
