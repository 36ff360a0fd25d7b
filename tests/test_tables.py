"""Statement tables (rag.answering.tables): a row read from its whole page with its header's years
and unit, the rows a question names, and amounts answered in the unit asked."""
from __future__ import annotations

from types import SimpleNamespace

from rag.answering import tables
from rag.answering.arithmetic import calculate
from rag.answering.route import shape_of
from rag.config import Settings
from rag.statements import expand
from rag.types import Document, Passage

# One page of a filing, as a PDF reader gives it: the header with the years and the unit at the
# top, the row the question asks for far below (another chunk).
PAGE = ("NETFLIX, INC.\nCONSOLIDATED BALANCE SHEETS\n(in thousands, except share and per share data)\n"
        "As of December 31, 2017 2016\nAssets\nCurrent assets:\nCash and cash equivalents $ 2,822,795 $ 1,467,576\n"
        "Total current assets 7,669,974 5,720,291\nTotal assets $ 19,012,742 $ 13,586,610\n"
        "Liabilities and Stockholders' Equity\nCurrent liabilities:\nAccounts payable 359,555 312,842\n"
        "Total current liabilities 5,466,312 4,586,657\nTotal liabilities 15,430,786 10,906,810\n"
        "Net income per share: basic $ 1.29 $ 0.44\n")
PROSE = "The Company grew its streaming membership. It expects growth to continue."


def _index(text: str) -> SimpleNamespace:
    doc = Document("d", "netflix.pdf", "Netflix 10-K", PROSE + "\n" + text, "h",
                   pages=(("p. 1", 0, len(PROSE)), ("p. 2", len(PROSE) + 1, len(PROSE) + 1 + len(text))))
    return SimpleNamespace(documents={"d": doc}, chunks=[], bm25=None)


def _chunk(index, start: int, end: int, page: int) -> Passage:
    doc = index.documents["d"]
    _, ps, pe = doc.pages[page - 1]
    return Passage("d", doc.source, doc.title, doc.text[start:end], start, end, 0.5, f"d#{start}", page, f"p. {page}",
                   ps, pe)


def test_a_table_chunk_is_widened_to_its_page_and_prose_is_not():
    index = _index(PAGE)
    offset = len(PROSE) + 1
    top = _chunk(index, offset, offset + PAGE.index("Liabilities and"), 2)  # the header half of the table
    rest = _chunk(index, offset + PAGE.index("Liabilities and"), offset + len(PAGE), 2)
    prose = _chunk(index, 0, len(PROSE), 1)
    widened = tables.widen([top, prose, rest], index)
    assert [p.page for p in widened] == [2, 1]  # one passage per page, in the order found
    assert widened[0].text == PAGE and (widened[0].start, widened[0].end) == (offset, offset + len(PAGE))
    assert index.documents["d"].text[widened[0].start:widened[0].end] == widened[0].text  # exact offsets
    assert widened[1] == prose


def test_a_row_is_labelled_by_its_header_years_however_far_above():
    at = PAGE.index("Total current liabilities")
    row = PAGE[at:PAGE.index("\n", at)]
    assert tables.table_row(row, PAGE, at) == "Total current liabilities — 2017: 5,466,312; 2016: 4,586,657"
    assert tables.table_row("It expects growth.", PAGE, 0) == "It expects growth."
    assert tables.is_header("As of December 31, 2017 2016") and tables.is_header("Fiscal Year Ended February 2, 2019")
    assert not tables.is_header("Total current assets 7,669,974 5,720,291")


def test_cells_whose_years_repeat_are_labelled_by_their_whole_dates():
    page = ("Condensed Consolidated Balance Sheets\n($ in millions)\nJuly 29, 2023 January 28, 2023 July 30, 2022\n"
            "Cash and cash equivalents 1,093 1,874 840\n")
    at = page.index("Cash")
    assert tables.table_row(page[at:].strip(), page, at) == (
        "Cash and cash equivalents — July 29, 2023: 1,093; January 28, 2023: 1,874; July 30, 2022: 840")
    assert tables.header_above(page, at, 3) == ["2023", "2023", "2022"]  # the years, to match a question's


def test_a_rows_unit_is_its_headers_and_per_share_rows_have_none():
    assert tables.table_scale(PAGE, PAGE.index("Total current liabilities")) == "thousand"
    assert tables.table_scale(PAGE, PAGE.index("Net income per share")) == ""
    assert tables.table_scale(PAGE, PAGE.index("CONSOLIDATED")) == ""  # not a row
    assert tables.table_scale("(Dollars in millions, except per share amount) 2018 2017\nTotal assets 36,500 37,987",
                              50) == "million"
    assert tables.asked_scale("What is X (in USD millions)?") == "million"
    assert tables.asked_scale("Answer in USD billions.") == "billion"
    assert tables.asked_scale("How many people live in millions of homes?") == ""


def test_the_rows_a_question_names_come_first():
    index = _index(PAGE)
    offset = len(PROSE) + 1
    page = tables.widen([_chunk(index, offset, offset + len(PAGE), 2)], index)
    rows = tables.rows_for("What is Netflix's year end FY2017 total current liabilities (in USD millions)?", page,
                           _Weighted(index), Settings(), 3)
    assert rows[0].passage.text == "Total current liabilities 5,466,312 4,586,657"
    assert rows[0].parent.text == PAGE and index.documents["d"].text[rows[0].passage.start:rows[0].passage.end] == \
        rows[0].passage.text
    assert all(not tables.is_header(r.passage.text) for r in rows)


class _Weighted(SimpleNamespace):
    """An index without BM25 statistics: every word equally rare."""

    def __init__(self, index):
        super().__init__(documents=index.documents, chunks=[], bm25=None)


def test_an_amount_is_answered_in_the_unit_asked():
    row = "Total current liabilities 5,466,312 4,586,657"
    c = calculate('liabilities_2017 = n(1, "5,466,312")\nanswer = liabilities_2017', [row],
                  "What is total current liabilities (in USD millions)?", scales=["thousand"])
    assert c is not None and c.text == "5,466,312 thousand = 5,466 million"
    c = calculate('answer = n(1, "8,738")', ["Property, plant and equipment — net 8,738 8,866"],
                  "What is net PPNE? Answer in USD billions.", scales=["million"])
    assert c.text == "8,738 million = 8.74 billion"
    c = calculate('answer = n(1, "1,577")', ["Purchases of property, plant and equipment (PP&E) (1,577) (1,373)"],
                  "What is capex (in USD millions)?", scales=["million"])
    assert c.text == "1,577 million"  # already in the unit asked
    c = calculate('answer = n(1, "5,466,312") / n(1, "4,586,657")', [row], "What is the ratio?", scales=["thousand"] * 1)
    assert c.text.endswith("= 1.19")  # a ratio has no unit


def test_questions_asking_an_amount_or_a_change_are_calculations():
    assert shape_of("What is the FY2018 capital expenditure amount (in USD millions) for 3M?") == "arithmetic"
    assert shape_of("According to the details clearly outlined within the balance sheet, how much total current "
                    "assets did Nike have at the end of FY2019? Answer in USD millions.") == "arithmetic"
    assert shape_of("How much has the effective tax rate of American Express changed between FY2021 and FY2022?") \
        == "arithmetic"
    assert shape_of("Outline the agreement.") == "summary"


def test_abbreviations_are_searched_with_their_row_labels():
    assert "purchases of property plant and equipment" in expand("What was 3M's capex in 2018?")
    assert "property plant and equipment net" in expand("What is the net PPNE?")
    assert "depreciation and amortization" in expand("What is EBITDA?")
    assert expand("Who signed the MoU?") == "Who signed the MoU?"


def test_a_yes_no_question_about_a_change_between_periods_is_known_with_its_direction():
    from rag.answering.yesno import asks_change

    assert asks_change("Did Pfizer grow its PPNE between FY20 and FY21?") == 1
    assert asks_change("Was there any drop in Cash & Cash equivalents between FY 2023 and Q2 of FY2024?") == -1
    assert asks_change("Was there any change in the number of stores between Q2 of FY2024 and FY2023?") == 0
    assert asks_change("Did revenue grow?") is None  # no two periods
    assert asks_change("Was the MoU signed in Colorado Springs?") is None


def test_a_change_is_calculated_later_minus_earlier_by_the_years_the_periods_name():
    from rag.answering.yesno import LATER_MINUS_EARLIER, later_minus_earlier

    assert later_minus_earlier("Was there any drop in cash between FY 2023 and Q2 of FY2024?") == \
        "Calculate the figure for Q2 of FY2024 minus the figure for FY 2023."
    assert later_minus_earlier("Did Pfizer grow its PPNE between FY20 and FY21?") == \
        "Calculate the figure for FY21 minus the figure for FY20."
    assert later_minus_earlier("Did sales rise from spring to autumn?") == LATER_MINUS_EARLIER


def test_a_change_between_two_years_is_read_off_the_best_row_that_gives_both():
    from rag.answering.arithmetic import computed
    from rag.answering.yesno import _row_change

    index = _index(PAGE)
    page = tables.widen([_chunk(index, len(PROSE) + 1 + PAGE.index("Total current"), len(PROSE) + 1 + len(PAGE), 2)], index)
    rows = tables.rows_for("Did total current liabilities grow between 2016 and 2017?", page, index, Settings(), 3)
    program = _row_change("Did total current liabilities grow between 2016 and 2017?", rows)
    assert program == ('value_2017 = n(1, "5,466,312")\nvalue_2016 = n(1, "4,586,657")\n'
                       "answer = value_2017 - value_2016")
    parts = computed(program, "Did total current liabilities grow between 2016 and 2017?", rows)
    assert parts and parts[0].short.startswith("879,655") and "thousand" in parts[0].short
    assert _row_change("Did liabilities grow between 2015 and 2016?", rows) is None  # no cell for 2015
    assert _row_change("Did liabilities grow?", rows) is None


def test_a_figure_added_to_or_taken_from_itself_is_no_calculation():
    row = ["TOTAL ASSETS 23,717 1,192 22,525"]
    assert calculate('a = n(1, "1,192")\nanswer = a + a', row) is None
    assert calculate('answer = (n(1, "23,717") - n(1, "23,717")) / n(1, "23,717")', row) is None
    assert calculate('answer = (n(1, "23,717") - n(1, "22,525")) / n(1, "22,525")', row, "By what percentage?") \
        is not None  # a figure twice in a ratio is fine
    assert calculate('answer = n(1, "8%") - n(1, "$10.4 billion")', ["Margins were 8% on $10.4 billion of sales."]) \
        is None  # a percentage and an amount do not add up
    # one cell named for two years is two figures: the row as the model read it gives each year its own
    program = 'revenue_2020 = n(1, "4,713,500")\nrevenue_2019 = n(1, "4,713,500")\nanswer = revenue_2020 - revenue_2019'
    plain, labelled = ["Total net revenue $ 9,497,578 $ 4,713,500"], ["Total net revenue — 2020: $ 9,497,578; 2019: $ 4,713,500"]
    assert calculate(program, plain, labelled=labelled).text == "$9,497,578 − $4,713,500 = $4,784,078"
    assert calculate(program, plain) is None  # a row that gives no years: one figure taken from itself


# -- with the real model ------------------------------------------------------------------------

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def local():
    from rag.generate.registry import get_backend

    return get_backend(Settings.from_env(backend="local"))


def _page_rows(question: str, n: int):
    index = _index(PAGE)
    offset = len(PROSE) + 1
    top = _chunk(index, offset, offset + PAGE.index("Liabilities and"), 2)  # the header half found, the page read
    page = tables.widen([top], index)
    return tables.rows_for(question, page, _Weighted(index), Settings(), n)


@pytest.mark.slow
def test_the_local_model_reads_an_amount_off_the_row_and_answers_in_the_unit_asked(local):
    """A chunk of the header was found; the row is further down the page, in thousands; the question
    asks for millions."""
    from rag.answering.arithmetic import reads_one_figure, solve

    question = "What is Netflix's year end FY2017 total current liabilities (in USD millions)?"
    assert reads_one_figure(question)
    rows = _page_rows(question, 1)
    parts = solve(question, rows, local, Settings.from_env(backend="local"))
    assert parts and parts[0].text == "5,466,312 thousand = 5,466 million" and parts[0].sources == (0,), parts


@pytest.mark.slow
def test_the_local_model_answers_whether_a_figure_fell_by_its_change(local):
    from rag.answering.yesno import by_change

    question = "Did Netflix's total current liabilities decrease between 2016 and 2017?"
    rows = _page_rows(question, 3)
    part = by_change(question, rows, local, Settings.from_env(backend="local"))
    assert part is not None and part.short == "No" and "5,466,312" in part.text and "4,586,657" in part.text, part
