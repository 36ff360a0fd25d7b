"""Arithmetic over cited figures: the safe evaluator, operand checks, dates, formatting, the
grammar, and the local 1.5B model writing expressions over real sentences (seeds, filings)."""
from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rag.answering.arithmetic import (ExpressionError, calculate, dates, evaluate, expression_grammar, figures,
                                      find_figure, parse, solve)
from rag.answering.base import Evidence
from rag.cite import split_sentences
from rag.config import Settings
from rag.evidence import Sentence, as_passage
from rag.types import Passage

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def evidence_of(text: str, wanted: list[str], title: str = "", doc: str = "doc") -> list[Evidence]:
    """The sentences of ``text`` (split as the pipeline splits them) that contain each of ``wanted``,
    in that order, as evidence."""
    parent = Passage(doc, f"{doc}.txt", title, text, 0, len(text), 1.0, f"{doc}#0")
    spans = split_sentences(text)
    out = []
    for w in wanted:
        s, e = next((s, e) for s, e in spans if w in text[s:e])
        out.append(Evidence(as_passage(parent, s, e, 0.5), parent, Sentence(0, s, e, 0.5, 0.5, 1.0)))
    return out


def seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


# -- the evaluator ------------------------------------------------------------------------


@pytest.mark.parametrize("expression, value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-(4 - 6)", 2), ("7 / 2", 3.5), ("2 ** 3", 8), ("abs(-3)", 3),
    ("round(2.345, 2)", 2.35), ("round(2.5)", 2), ("min(3, 1, 2)", 1), ("max([3, 1, 2])", 3),
    ("sum(1, 2, 3)", 6), ("mean(1, 2, 6)", 3), ("average([2, 4])", 3), ("+5", 5),
])
def test_the_evaluator_computes_plain_arithmetic(expression, value):
    assert evaluate(parse(expression)) == pytest.approx(value)


@pytest.mark.parametrize("expression, why", [
    ("__import__('os').system('true')", "__import__"),
    ("(1).real", "Attribute"),
    ("().__class__", "Attribute"),
    ("open('/etc/passwd')", "open"),
    ("eval('1')", "eval"),
    ("x + 1", "x is not defined"),
    ("a = n(1, \"5\")\nb + a", "b is not defined"),
    ("import os", "line 1 is not"),
    ("a = 1\nfor i in (1, 2): a", "line 2 is not"),
    ("x = 1\n" * 12 + "x", "at most 12 lines"),
    ("a = n(1, \"5\")\n" + "a = a + a + a + a\n" * 6 + "a", "too long"),
    ("(lambda: 1)()", "lambda"),
    ("[i for i in (1, 2)]", "ListComp"),
    ("'a' * 3", "Constant"),
    ("1 if 2 else 3", "IfExp"),
    ("1 < 2", "Compare"),
    ("7 // 2", "BinOp"),
    ("7 % 2", "BinOp"),
    ("abs(x=1)", "keyword"),
    ("sum(*[1, 2])", "Starred"),
    ("abs(1, 2)", "abs() takes one value"),
    ("sum(5)", "sum() takes the operands"),
    ("round(1.5, 99)", "round()"),
    ('n("1", "5")', "n(sentence number"),
    ('days(1, 2)', "days() takes two dates"),
    ("1 +", "not an expression"),
    ("(" * 5000 + "1" + ")" * 5000, "too long"),
])
def test_the_evaluator_refuses_anything_else_with_a_clear_error(expression, why):
    with pytest.raises(ExpressionError, match=re.escape(why)):
        parse(expression)


@pytest.mark.parametrize("expression", ["2 ** 1000", "9 ** 9 ** 9", "10.0 ** 10 ** 10", "(-8) ** 0.5"])
def test_huge_or_complex_powers_are_refused(expression):
    with pytest.raises(ExpressionError):
        evaluate(parse(expression))


def test_the_evaluator_never_runs_python(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(ExpressionError):
        calculate(f"__import__('pathlib').Path({str(marker)!r}).touch()", ["1"])
    assert not marker.exists()


# -- operands ------------------------------------------------------------------------------


ROW = "Purchases of property, plant and equipment (PP&E) $ (1,577) $ (1,373) $ (1,420)"
PROSE = "Revenue was $34.2 million in 2023, up 2.5 percent, on the 14th (local time); 120 staff, 12.5% of them new."


def test_figures_are_read_with_their_currency_scale_percent_and_ordinal():
    found = {f.written: f for f in figures(PROSE)}
    assert found["34.2"].shown == "$34.2 million" and found["34.2"].value == 34_200_000
    assert found["2.5"].percent and found["12.5%"].percent and found["14th"].ordinal and found["14th"].value == 14
    assert [f.written for f in figures("FY2018 Q2 5G 34,229 Nov 23,2023")] == ["34,229", "23", "2023"]


@pytest.mark.parametrize("written, sentence, value", [
    ("34,229", "It handled 34,229 containers.", 34229),
    ("34229", "It handled 34,229 containers.", 34229),
    ("$34.2 million", PROSE, 34_200_000),
    ("34.2", PROSE, 34_200_000),
    ("2.5%", PROSE, 2.5),
    ("14th", PROSE, 14),
    ("14", PROSE, 14),
    ("1,577", ROW, 1577),
    ("-1,577", ROW, -1577),
    ("(1,577)", ROW, 1577),  # a statement's parentheses: the expression's own minus says how it counts
])
def test_an_operand_is_found_in_its_sentence_however_it_is_written(written, sentence, value):
    assert find_figure(written, sentence)[1] == pytest.approx(value)


@pytest.mark.parametrize("written", ["34.2 billion", "1,578", "15th", "2.5 and 3", "twelve", "€34.2 million"])
def test_a_figure_its_sentence_does_not_hold_is_not_found(written):
    assert find_figure(written, PROSE + " " + ROW) is None


def test_an_expression_citing_a_figure_its_sentence_lacks_is_rejected():
    sentences = ["The port handled 19,232 containers in 2021.", "In 2022 it handled 34,229 containers."]
    assert calculate('n(2, "34,229") - n(1, "19,232")', sentences).result == "14,997"
    assert calculate('n(1, "34,229") - n(1, "19,232")', sentences) is None  # the wrong sentence
    assert calculate('n(2, "34,299") - n(1, "19,232")', sentences) is None  # a figure nobody wrote
    assert calculate('n(3, "34,229") - n(1, "19,232")', sentences) is None  # no sentence 3
    assert calculate('n(2, "34,229") - 19232', sentences) is None  # a bare number that is not the question's
    assert calculate('n(2, "34,229") / n(1, "19,232") * 100', sentences) is None  # 100 only for a percentage


def test_a_statements_parentheses_are_not_a_minus():
    sentences = ["Operating Profit 11,512 11,162", "Depreciation and amortization 2,763 2,710",
                 "Capital spending (5,207) (4,625)"]
    program = 'ebitda = n(1, "11,512") + n(2, "2,763")\ncapex = n(3, "(5,207)")\nanswer = ebitda - capex'
    assert calculate(program, sentences, "What is EBITDA less capex?").text == "11,512 + 2,763 − 5,207 = 9,068"


def test_a_bare_number_the_question_gives_may_be_used():
    sentences = ["Accounts payable 292 253", "Cost of revenues 4,882 5,512"]
    question = "What is DPO, defined as 365 * average accounts payable / cost of revenues?"
    calc = calculate('365 * mean(n(1, "292"), n(1, "253")) / n(2, "4,882")', sentences, question)
    assert calc.value == pytest.approx(365 * 272.5 / 4882) and calc.result == "20.37"


def test_division_by_zero_is_no_answer():
    assert calculate('n(1, "5") / (n(1, "5") - n(1, "5"))', ["Five: 5."]) is None


# -- dates ---------------------------------------------------------------------------------


def test_days_between_ordinal_days_of_the_month():
    [e] = evidence_of(seed("000"), ["on the 16th"])
    sentence = e.passage.text
    assert dates(sentence) == ["16th", "14th"]
    assert dates("It opened on the 29th, closed on the 31st.") == ["29th", "31st"]
    assert dates("It followed the 3rd ROK-US Civil Space Dialogue and the 70th anniversary.") == []
    question = "How many days after the MOU signing did KASA announce it?"
    for expression in ('n(1, "16th") - n(1, "14th")', 'days(d(1, "14th"), d(1, "16th"))'):
        calc = calculate(expression, [sentence], question)
        assert (calc.result, calc.text, calc.sources) == ("2 days", "16th − 14th = 2 days", (0,))
    # the days between them, whichever the model wrote first
    for expression in ('n(1, "14th") - n(1, "16th")', 'days(d(1, "16th"), d(1, "14th"))'):
        assert calculate(expression, [sentence], question).text == "16th − 14th = 2 days"
    assert calculate('n(1, "14th") - n(1, "16th")', [sentence], "What is the difference?").result == "−2"


def test_days_between_full_dates_written_in_different_ways():
    sentences = ["Press release, Nov 23,2023.", "It was signed on November 22nd (Wed.) by the ministers.",
                 "The symposium was held on November 8th (Wed.) 2023 in Seoul.", "Updated : 2025-06-12 18:09:42",
                 "He attended a forum on June 11 (local time)."]
    assert calculate('days(d(3, "November 8th (Wed.) 2023"), d(1, "Nov 23,2023"))', sentences).result == "15 days"
    # a date without a year takes the other's
    calc = calculate('days(d(2, "November 22nd"), d(1, "Nov 23,2023"))', sentences)
    assert calc.result == "1 day" and calc.text == "Nov 23, 2023 − November 22nd = 1 day" and calc.sources == (0, 1)
    # the days between two dates: given later first, they are shown in calendar order
    calc = calculate('days(d(1, "Nov 23,2023"), d(3, "November 8th (Wed.) 2023"))', sentences)
    assert calc.text == "Nov 23, 2023 − November 8th 2023 = 15 days" and calc.sources == (0, 2)
    assert calculate('days(d(5, "June 11"), d(4, "2025-06-12"))', sentences).result == "1 day"
    assert calculate('days(d(5, "June 11"), d(4, "2025-06-13"))', sentences) is None  # not that sentence's date
    assert calculate('days(d(2, "November 8th"), d(1, "Nov 23,2023"))', sentences) is None


def test_days_are_not_counted_from_a_date_to_itself_or_across_documents_without_month():
    sentences = ["KASA said on the 16th that the MOU was signed on the 14th.",
                 "The MoU was signed on November 22nd (Wed.).", "The press release is dated Nov 23,2023."]
    assert calculate('days(d(1, "16th"), d(1, "16th"))', sentences) is None
    program = 'days(d(1, "14th"), d(2, "November 22nd (Wed.)"))'
    assert calculate(program, sentences, documents=["kasa", "uk", "uk"]) is None  # November is the UK's
    assert calculate(program, sentences, documents=["one", "one", "one"]).result == "8 days"
    program = 'days(d(2, "November 22nd (Wed.)"), d(3, "Nov 23,2023"))'
    assert calculate(program, sentences, documents=["kasa", "uk", "uk"]).result == "1 day"


def test_days_across_a_leap_february_use_the_calendar():
    sentences = ["Filed on 1 February 2024.", "Approved on 1 March 2024."]
    assert calculate('days(d(1, "1 February 2024"), d(2, "1 March 2024"))', sentences).result == "29 days"


# -- formatting ----------------------------------------------------------------------------


@pytest.mark.parametrize("expression, sentences, question, text", [
    ('n(2, "34,229") - n(1, "19,232")', ["In 2021: 19,232.", "In 2022: 34,229."], "How many more?",
     "34,229 − 19,232 = 14,997"),
    ('(n(1, "4.2") - n(1, "3.5")) / n(1, "3.5")', ["Revenue rose to $4.2 million from $3.5 million."],
     "By what percentage did revenue grow?", "($4.2 million − $3.5 million) ÷ $3.5 million = 20.0%"),
    ('n(1, "4.2") / n(1, "3.5")', ["Revenue rose to $4.2 million from $3.5 million."],
     "What is the ratio of the two years' revenue?", "$4.2 million ÷ $3.5 million = 1.20"),
    ('n(1, "4.2") - n(1, "3.5")', ["Revenue rose to $4.2 million from $3.5 million."], "By how much?",
     "$4.2 million − $3.5 million = $0.7 million"),
    ('n(1, "21.6") - n(1, "24.6")', ["Effective tax rate 21.6 % 24.6 % 27.0 %"], "How much did the rate change?",
     "21.6% − 24.6% = −3.0 percentage points"),
    ('n(1, "6,489") / mean(n(2, "253"), n(2, "282"))', ["Total net revenues 6,489 7,500 7,017",
     "Property and equipment, net 253 282"], "Round your answer to two decimal places.",
     "6,489 ÷ ((253 + 282) ÷ 2) = 24.26"),
    ('(n(1, "177,866") - n(1, "135,987")) / n(1, "135,987")', ["Total net sales 107,006 135,987 177,866"],
     "What is the change in revenue (in units of percents and round to one decimal place)?",
     "(177,866 − 135,987) ÷ 135,987 = 30.8%"),
    ('n(1, "2023") - n(2, "140th")', ["Nov 23,2023", "It marks the 140th anniversary."], "In which year?",
     "2023 − 140th = 1883"),
    ('-n(1, "1,577")', [ROW], "What is capex?", "−$1,577 = −$1,577"),
    ('n(1, "1,577")', [ROW], "What is capex?", "$1,577"),
])
def test_the_calculation_is_shown_with_its_result_formatted(expression, sentences, question, text):
    assert calculate(expression, sentences, question).text == text


def test_a_percentage_the_model_scaled_itself_is_not_scaled_twice():
    calc = calculate('n(1, "982") / n(1, "969") * 100', ["Stores 969 and 982"], "What is it in percent?")
    assert calc.result == "101.3%"
    program = 'g = (n(1, "982") - n(1, "969")) / n(1, "969") * 100\nanswer = round(g, 1)'
    calc = calculate(program, ["Stores 969 and 982"], "What is the growth rate?")
    assert calc.text == "(982 − 969) ÷ 969 × 100 = 1.3%"


def test_the_change_in_a_rate_is_in_points_unless_a_relative_change_is_asked():
    rates = ["Effective tax rate — 2022: 21.6%; 2021: 24.6%"]
    relative = '(n(1, "21.6%") - n(1, "24.6%")) / n(1, "24.6%")'
    calc = calculate(relative, rates, "How much has the effective tax rate changed between FY2021 and FY2022?")
    assert calc.text == "21.6% − 24.6% = −3.0 percentage points"
    assert calculate(relative, rates, "What was the percentage change in the tax rate?").result == "−12.2%"
    amounts = ["Sales — 2022: 5,310; 2021: 4,870"]  # amounts keep the ratio the model wrote
    assert calculate('(n(1, "5,310") - n(1, "4,870")) / n(1, "4,870")', amounts, "How much did sales change?").value > 0


def test_a_share_of_a_whole_is_at_most_all_of_it():
    sentences = ["In the fourth quarter it bought shares for $328.1 million.", "In the year it spent $900.0 million."]
    question = "What percent of the total spend on repurchases occurred in the fourth quarter?"
    assert calculate('n(1, "$328.1 million") / n(2, "$900.0 million") * 100', sentences, question).result == "36.5%"
    assert calculate('n(2, "$900.0 million") / n(1, "$328.1 million") * 100', sentences, question) is None
    assert calculate('n(2, "$900.0 million") / n(1, "$328.1 million")', sentences, question) is None
    rows = ["Operating profit — 2022: 11,512", "Net revenue — 2022: 86,392", "Free cash flow 7,157"]
    margin = "What is the FY2022 operating margin in percent?"  # a margin may be a loss, never more than all sales
    assert calculate('n(1, "11,512") / n(2, "86,392") * 100', rows, margin).result == "13.3%"
    assert calculate('(n(1, "11,512") - n(2, "86,392")) / n(2, "86,392") * 100', rows, margin).result == "−86.7%"
    assert calculate('n(2, "86,392") / n(3, "7,157") * 100', rows, margin) is None


def test_a_year_asked_is_a_year():
    sentences = ["The symposium in 2023 marks the 70th anniversary of the alliance."]
    assert calculate('n(1, "70th")', sentences, "In what year was the alliance formed?") is None
    assert calculate('n(1, "2023") - n(1, "70th")', sentences, "In what year was the alliance formed?").result == "1953"


def test_operands_named_first_are_one_expression():
    sentences = ["(Millions) 2021 2020 2019", "Total net sales 5,310 4,870 4,512"]
    program = 'sales_2021 = n(2, "5,310")\nsales_2020 = n(2, "4,870")\nanswer = (sales_2021 - sales_2020) / sales_2020'
    calc = calculate(program, sentences, "By what percentage did sales grow?")
    assert calc.text == "(5,310 − 4,870) ÷ 4,870 = 9.0%" and calc.sources == (1,)
    program = 'start = d(1, "3 March 2024")\nend = d(2, "29th")\nanswer = days(start, End)'  # a name's case slipped
    assert calculate(program, ["On sale on 3 March 2024.", "Opened on the 29th."]).result == "26 days"


def test_an_operand_named_for_a_year_takes_the_figure_the_sentence_gives_that_year():
    from rag.answering.arithmetic import year_labels

    s = "It was worth $32 billion in 2011, up from $28 billion in September 2010 and $26 billion in 2009."
    assert [(f.shown, y) for f, y in year_labels(s)] == [("$32 billion", 2011), ("$28 billion", 2010), ("$26 billion", 2009)]
    row = "Total net sales — 2021: 5,310; 2020: 4,870; 2019: 4,512"
    assert [y for _, y in year_labels(row)] == [2021, 2020, 2019]
    assert [y for _, y in year_labels("Revenue — 2020: $ 9,497,578; 2019: $ 4,713,500; 2018: $ (3)")] == [2020, 2019, 2018]
    misread = 'worth_2011 = n(1, "32")\nworth_2009 = n(1, "28")\nanswer = worth_2011 - worth_2009'
    c = calculate(misread, [s], "By how much did it grow from 2009 to 2011?")
    assert c is not None and c.text == "$32 billion − $26 billion = $6 billion"
    # a name without a year, or a figure the sentence gives no year, is taken as written
    assert calculate('a = n(1, "32")\nb = n(1, "28")\nanswer = a - b', [s]).text == "$32 billion − $28 billion = $4 billion"


def test_a_calculation_that_cites_no_figure_is_no_answer():
    assert calculate("2 * 2 + 2", ["Total net sales 5,310 4,870"], "In what year?") is None


def test_a_table_row_is_shown_with_the_years_of_its_header():
    from rag.answering.arithmetic import table_row

    text = ("Years ended December 31\n(Millions) 2018 2017 2016\nNet income $ 5,363 $ 4,869 $ 5,058\n"
            "Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)\nOther — net 9 (6) (4)\n"
            "It rose 5% in 2018.")
    header, row, other, prose = evidence_of(text, ["(Millions)", "Purchases", "Other", "It rose"])
    assert table_row(row) == ("Purchases of property, plant and equipment (PP&E) — "
                              "2018: (1,577); 2017: (1,373); 2016: (1,420)")
    assert table_row(other) == "Other — net — 2018: 9; 2017: (6); 2016: (4)"
    assert table_row(header) == header.passage.text and table_row(prose) == prose.passage.text
    [alone] = evidence_of("Net income 5,363 4,869 5,058", ["Net income"])  # no header above: as it is
    assert table_row(alone) == "Net income 5,363 4,869 5,058"


def test_a_hosted_reply_is_read_from_its_code_fence():
    from rag.answering.arithmetic import _reply_program

    reply = 'Here is the calculation:\n```python\na = n(1, "5")\nanswer = a * 2\n```\nHope this helps.'
    assert _reply_program(reply) == 'a = n(1, "5")\nanswer = a * 2'
    assert _reply_program("none") == "none"


# -- the grammar ---------------------------------------------------------------------------


def test_the_grammar_offers_each_sentence_only_its_own_figures_and_dates():
    sentences = ["The port handled 19,232 containers on 3 May 2021.", "No figures here.", "It rose 2.5% to 34,229."]
    grammar = expression_grammar(sentences, "What is 365 times the change since FY2019?")
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["n1"] == '"19,232" | "3"' and rules["n3"] == '"2.5%" | "34,229"' and "n2" not in rules
    assert rules["ref"] == '"1, \\"" n1 "\\"" | "3, \\"" n3 "\\""'
    assert rules["d1"] == '"3 May 2021"' and rules["dref"] == '"1, \\"" d1 "\\""'
    assert rules["root"] == '"none" | (line "\\n"){0,5} "answer = " expr0'
    assert rules["line"] == 'name " = " (expr0 | "d(" dref ")")'
    assert rules["atom"] == ('"n(" ref ")" | "days(" date ", " date ")" | "2" | "365" | '
                             '"days(" name ", " name ")" | name')
    assert "(" not in rules["factor2"].replace('"-"? (atom', "")  # two levels of parentheses, no more
    # a year is a figure only for a question about years
    years = dict(line.split(" ::= ", 1) for line in expression_grammar(sentences, "How many years ago?").splitlines())
    assert years["n1"] == '"19,232" | "2021" | "3"'
    assert expression_grammar(["No figures here."]) is None


def test_a_backend_that_cannot_chat_gets_no_calculation():
    from rag.generate.extractive import ExtractiveBackend

    evidence = evidence_of(seed("000"), ["on the 16th"])
    assert solve("How many days after the signing was it announced?", evidence, ExtractiveBackend(), Settings()) is None


# -- the real model --------------------------------------------------------------------------

# Real sentences: the seeds, and statement rows of FinanceBench filings as pdfium reads them
# (../shared/datasets/financebench/pdfs, the page each question's evidence names), with the
# rows around them. ``value``: the right result as shown (a % as its number of percent).
FILING = {
    "3M_2018_10K p. 60": "Years ended December 31\n(Millions) 2018 2017 2016\nNet cash provided by (used in) operating "
    "activities 6,439 6,240 6,662\nPurchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420)\n"
    "Proceeds from sale of PP&E and other assets 262 49 58",
    "AMAZON_2017_10K p. 38": "Year Ended December 31,\n2015 2016 2017\nNet product sales $ 79,268 $ 94,665 $ 118,573\n"
    "Net service sales 27,738 41,322 59,293\nTotal net sales 107,006 135,987 177,866\n"
    "Operating income 2,233 4,186 4,106",
    "BLOCK_2020_10K p. 86": "(In thousands, except per share data)\nYear Ended December 31,\n2020 2019 2018\n"
    "Transaction-based revenue $ 3,294,978 $ 3,081,074 $ 2,471,451\nBitcoin revenue 4,571,543 516,465 166,517\n"
    "Total net revenue 9,497,578 4,713,500 3,298,177\nTotal cost of revenue 6,764,169 2,823,815 1,994,477",
    "PEPSICO_2022_10K p. 62, 64": "(in millions except per share amounts)\n2022 2021 2020\nNet Revenue $ 86,392 $ "
    "79,474 $ 70,372\nOperating Profit 11,512 11,162 10,080\n(in millions)\n2022 2021 2020\nDepreciation and "
    "amortization 2,763 2,710 2,548\nCapital spending (5,207) (4,625) (4,240)",
    "AMERICANEXPRESS_2022_10K p. 44": "(Millions, except percentages, per share amounts and where indicated) 2022 "
    "2021 2020 2022 vs. 2021 2021 vs. 2020\nReturn on average equity 32.3 % 33.7 % 14.2 %\nEffective tax rate "
    "21.6 % 24.6 % 27.0 %",
    "ULTABEAUTY_2023Q4_EARNINGS p. 3": "During the fourth quarter of fiscal 2022, the Company repurchased 722,457 "
    "shares of its\ncommon stock at a cost of $328.1 million. During fiscal 2022, the Company repurchased 2.2\n"
    "million shares of its common stock at a cost of $900.0 million. As of January 28, 2023, $1.1\nbillion remained "
    "available under the $2.0 billion share repurchase program announced in\nMarch 2022.",
    "ACTIVISIONBLIZZARD_2019_10K p. 69, 70": "At December 31, 2019 At December 31, 2018\nProperty and equipment, net "
    "253 282\nFor the Years Ended December 31,\n2019 2018 2017\nTotal net revenues 6,489 7,500 7,017",
}
CASES = [  # (question, source, the sentences to show, the right value)
    ("How many days after the MOU signing did KASA announce it?", "000",
     ["Korea and Canada will move", "on the 16th", "Through the MOU"], 2),
    ("How many days after the ROK-US Space Industry Symposium was the Korea-Emerging Space Countries Symposium held?",
     "001", ["hosted the", "70th anniversary", "on the second day"], 1),
    ("In what year was the ROK-US alliance formed?", "001", ["hosted the", "70th anniversary"], 1953),
    ("How many days after the ROK-UK Digital Partnership was signed is the press release dated?", "003",
     ["Nov 23,2023", "announced the signing of"], 1),
    ("In what year did Korea and the United Kingdom establish formal diplomatic relations?", "003",
     ["Nov 23,2023", "dates back to 1985"], 1883),
    ("How many years passed between the ROK-UK science and technology cooperation agreement and this year's "
     "Implementation Arrangement?", "003", ["Nov 23,2023", "dates back to 1985"], 38),
    ("How many days after the Conference of Montreal was the Global Economic Times article updated?", "002",
     ["Updated :", "Daejeon Mayor Lee Jang-woo attended"], 1),
    ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?", "3M_2018_10K p. 60",
     ["(Millions)", "Net cash provided", "Purchases of property", "Proceeds from sale"], 1577),
    ("What is Amazon's year-over-year change in revenue from FY2016 to FY2017 (in units of percents and round to one "
     "decimal place)?", "AMAZON_2017_10K p. 38", ["2015 2016 2017", "Net product sales", "Total net sales",
                                                 "Operating income"], 30.8),
    ("What is the FY2019 - FY2020 total revenue growth rate for Block (formerly known as Square)? Answer in units of "
     "percents and round to one decimal place.", "BLOCK_2020_10K p. 86",
     ["2020 2019 2018", "Transaction-based revenue", "Bitcoin revenue", "Total net revenue"], 101.5),
    ("What is the FY2022 unadjusted EBITDA less capex for PepsiCo? Define unadjusted EBITDA as unadjusted operating "
     "income + depreciation and amortization. Answer in USD millions.", "PEPSICO_2022_10K p. 62, 64",
     ["Net Revenue", "Operating Profit", "Depreciation and", "Capital spending"], 9068),
    ("How much has the effective tax rate of American Express changed between FY2021 and FY2022?",
     "AMERICANEXPRESS_2022_10K p. 44", ["(Millions, except", "Return on average", "Effective tax rate"], -3.0),
    ("What percent of Ulta Beauty's total spend on stock repurchases for fiscal 2022 occurred in its fourth quarter?",
     "ULTABEAUTY_2023Q4_EARNINGS p. 3", ["During the fourth quarter", "common stock at a cost of $328.1",
                                         "During fiscal 2022, the Company", "million shares of its"], 36.5),
    ("What is the FY2019 fixed asset turnover ratio for Activision Blizzard? Fixed asset turnover ratio is defined as: "
     "FY2019 revenue / (average PP&E between FY2018 and FY2019). Round your answer to two decimal places.",
     "ACTIVISIONBLIZZARD_2019_10K p. 69, 70", ["At December 31, 2019", "Property and equipment", "2019 2018 2017",
                                                "Total net revenues"], 24.26),
]


def case_evidence(source: str, wanted: list[str]) -> list[Evidence]:
    if source in FILING:
        return evidence_of(FILING[source], wanted, title=source, doc=source.split(" ")[0])
    return evidence_of(seed(source), wanted, title="", doc=source)


def shown_value(short: str) -> float | None:
    """The number a result shows ("−3.0 percentage points" → -3.0, "30.8%" → 30.8, "2 days" → 2)."""
    m = re.search(r"[−-]?\$?[\d,]+(?:\.\d+)?", short)
    return float(re.sub(r"[$,]", "", m.group().replace("−", "-"))) if m else None


def is_right(parts, value: float) -> bool:
    if not parts:
        return False
    got = shown_value(parts[0].short)
    return got is not None and abs(got - value) <= max(0.011, abs(value) * 0.002)


@pytest.fixture(scope="module")
def local():
    from rag.generate.registry import get_backend

    return get_backend(Settings.from_env(backend="local"))


@pytest.mark.slow
def test_the_local_model_counts_the_days_between_the_14th_and_the_16th(local):
    """Issue 24's example: signed "on the 14th", announced "on the 16th" → two days, cited."""
    question, source, wanted, value = CASES[0]
    evidence = case_evidence(source, wanted)
    parts = solve(question, evidence, local, Settings.from_env(backend="local"))
    assert parts and parts[0].short == "2 days" and parts[0].sources == (1,), parts
    assert parts[0].text == "16th − 14th = 2 days"


@pytest.mark.slow
def test_a_calculation_mixing_documents_is_asked_again_over_the_best_document(local):
    """With another document's sentence among the evidence (as the pipeline selects it), the model
    took the UK MoU's "November 22nd" for KASA's announcement: refused, then asked over KASA's
    document alone."""
    question, source, wanted, value = CASES[0]
    evidence = case_evidence(source, wanted)
    evidence[1] = replace(evidence[1], sentence=replace(evidence[1].sentence, score=0.9))  # the best sentence
    evidence += evidence_of(seed("003"), ["announced the signing of"], doc="003")
    parts = solve(question, evidence, local, Settings.from_env(backend="local"))
    assert parts and parts[0].short == "2 days" and parts[0].sources == (1,), parts


@pytest.mark.slow
def test_the_local_model_on_seed_and_filing_questions(local, capsys):
    """Every answer is a calculation over figures of the sentences it cites; most are right."""
    settings = Settings.from_env(backend="local")
    right, times = 0, []
    for question, source, wanted, value in CASES:
        evidence = case_evidence(source, wanted)
        started = time.perf_counter()
        parts = solve(question, evidence, local, settings)
        times.append(time.perf_counter() - started)
        right += is_right(parts, value)
        with capsys.disabled():
            print(f"\n{'RIGHT' if is_right(parts, value) else 'wrong'} {times[-1]:5.1f}s  {question[:70]!r}: "
                  f"{parts[0].text if parts else None}  (want {value})")
        for part in parts or ():
            assert part.sources and all(0 <= s < len(evidence) for s in part.sources)
    with capsys.disabled():
        times.sort()
        print(f"\narithmetic: {right}/{len(CASES)} right; solve time median {times[len(times) // 2]:.1f}s, "
              f"max {times[-1]:.1f}s")
    assert right >= 7  # 8 of 14 measured (temperature 0; a little slack for llama.cpp's prompt cache)


@pytest.mark.slow
def test_without_the_grammar_the_reply_is_checked_after_the_fact(local):
    """A hosted model gets the same prompt and no grammar; its reply is held to the same checks."""
    class Hosted:  # the local model, asked the way a hosted backend is: no grammar
        takes_grammar = False
        context_window, prompt_share = local.context_window, local.prompt_share

        def chat(self, messages, settings, max_tokens):
            return local.chat(messages, settings, max_tokens)

    answers = []
    for question, source, wanted, value in CASES[:2]:  # measured: the first declined (a wrong sentence number)
        parts = solve(question, case_evidence(source, wanted), Hosted(), Settings.from_env(backend="local"))
        assert parts is None or is_right(parts, value), parts
        answers.append(parts)
    assert any(answers)
