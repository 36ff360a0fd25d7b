"""The FinanceBench grader (figures by the gold's precision, yes/no polarity, key terms), with real
gold strings and questions from questions.jsonl; and the evidence-hit rule."""
from pathlib import Path

import pytest

from eval.financebench import correct, evidence_hit, figures, gold_kind, grade_answer, load_questions

FINANCEBENCH = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "financebench"
CAPEX_Q = ("What is the FY2018 capital expenditure amount (in USD millions) for 3M? Give a response to the question by "
           "relying on the details shown in the cash flow statement.")


def test_figures_keep_precision_and_units_and_skip_years_and_dates():
    (capex,) = figures("$1577.00")
    assert (capex.value, capex.decimals, capex.percent, capex.scale) == (1577, 2, False, 0)
    (ebitda,) = figures("AMCOR's Adj. EBITDA was $2,018mn in FY 2023")  # a figure that reads like a year
    assert (ebitda.value, ebitda.scale) == (2018, 6)
    assert [f.value for f in figures("Revenue rose in 2018 and in FY2019, Q2 and H1")] == []
    assert figures("from August 30, 2023 onward; dated 1st July 2022") == []
    (rate,) = figures("Effective tax rate was -14.76% in FY2021")
    assert (str(rate.value), rate.decimals, rate.percent) == ("14.76", 2, True)


def test_figures_match_to_the_gold_precision():
    assert correct("Capital expenditure was $1,577 million in FY2018 [1].", "$1577.00", CAPEX_Q)
    assert correct("Purchases of PP&E were $1.577 billion [1].", "$1577.00", CAPEX_Q)  # billions stated
    assert correct("About $1.58 billion [1].", "$1577.00", CAPEX_Q)  # within 0.5 % of a large figure
    assert not correct("Capital expenditure was $1,373 million in 2017.", "$1577.00", CAPEX_Q)
    assert not correct("It was 1,577 billion.", "$1577.00", CAPEX_Q)  # the question asks for millions
    assert not correct("It rose in 2018.", "$1577.00", CAPEX_Q)  # years are not figures
    assert correct("2,018 [1]", "AMCOR's Adj. EBITDA was $2,018mn in FY 2023")
    assert not correct("$2,108mn [1]", "AMCOR's Adj. EBITDA was $2,018mn in FY 2023")
    assert correct("The ratio is 24.26x.", "24.26") and correct("The ratio is 24.3.", "24.26")  # the gold rounded
    assert not correct("The ratio is 24.", "24.26") and not correct("The ratio is 25.1.", "24.26")
    assert correct("The CCC was -3.7 days.", "-3.7") and correct("3.70 days", "-3.7")  # sign-free
    assert not correct("-37 days", "-3.7")
    assert correct("EBITDA margin 16.46% [1]", "16.5%") and correct("a margin of 0.165", "16.5%")  # a fraction
    assert not correct("a margin of 16.4%", "16.5%") and not correct("about 17%", "16.5%")
    assert correct("1.9% on average", "1.9%") and not correct("2% on average", "1.9%")
    assert not correct("growth of 100.5%", "101.5%")
    gold = "JnJ realised $13.2 billion in cash proceeds from the separation of Kenvue."
    question = ("What is the amount of the cash proceeds that JnJ realised from the separation of Kenvue (formerly "
                "Consumer Health business segment), as of August 30, 2023?")
    assert gold_kind(gold, question) == "figure"
    assert correct("$13.2 billion [1]", gold, question) and correct("13,200 million", gold, question)
    assert not correct("$13.2 million", gold, question)
    both = "Effective tax rate in FY2022 was 0.62%, compared to  -14.76% in FY2021."
    question = "How does Boeing's effective tax rate in FY2022 compare to FY2021?"
    assert correct("0.6% in FY2022 against -14.8% in FY2021 [1]", both, question)
    assert not correct("The rate was 0.62% in FY2022 [1].", both, question)  # every figure of the gold
    # a gold's trailing zeros are formatting: "$382.00" is 382 million, "$8.70" is 8.7 billion
    assert correct("381,603 thousand = 381.6 million [1]", "$382.00", "How much? Answer in USD millions.")
    assert correct("8,738 million = 8.74 billion [1]", "$8.70", "What is it? Answer in USD billions.")
    assert not correct("380.4 million [1]", "$382.00", "How much? Answer in USD millions.")


def test_a_calculation_is_graded_by_its_result_not_its_operands():
    assert not correct("$1,577 million + $1,373 million + $1,420 million = $4,370 million [1]", "$1577.00", CAPEX_Q)
    assert correct("$1,577 million [1]", "$1577.00", CAPEX_Q)
    assert correct("($177,866 − $135,987) ÷ $135,987 × 100 = 30.8% [1]", "30.8%")


def test_an_answer_is_graded_by_what_it_says_not_by_the_sentence_it_quotes():
    text = "2,117 [1] — “Adjusted EBITDA 2,117 1,701 1,224 80.5 2,018 1,608 1,089 73.3”"
    assert not correct(text, "AMCOR's Adj. EBITDA was $2,018mn in FY 2023", "What was Adjusted EBITDA for FY 2023?")
    assert correct("2,018 [1] — “Adjusted EBITDA 2,117 2,018”", "$2,018mn", "What was Adjusted EBITDA for FY 2023?")


def test_yes_no_golds_are_graded_by_polarity():
    gold = "No. Microsoft decreased its debt by $2.5bn in FY 2023 vs FY 2022."
    question = "Has Microsoft increased its debt on balance sheet between FY2023 and the FY2022 period?"
    assert gold_kind(gold, question) == "yesno"
    assert correct("No — total debt fell from $49.8bn to $47.2bn [1].", gold, question)
    assert not correct("Yes, debt increased [1].", gold, question)
    assert not correct("Microsoft's debt decreased [1].", gold, question)  # no verdict given
    assert correct("Yes [1].", "Yes", "Was American Express able to retain card members during 2022?")


def test_other_golds_need_most_of_their_own_terms():
    question = "What are the geographies that American Express primarily operates in as of 2022?"
    gold = "United States, EMEA, APAC, and LACC"
    assert correct("Segments: United States, EMEA, APAC and LACC [2].", gold, question)
    assert not correct("The company reports one segment [1].", gold, question)
    question = "What are three main companies acquired by Pfizer mentioned in this 10K report?"
    assert correct("Pfizer acquired Array BioPharma and Therachon [1].", "Trillium, Array, and Therachon", question)
    assert not correct("Pfizer acquired Array BioPharma [1].", "Trillium, Array, and Therachon", question)
    question = ("What drove gross margin change as of the FY2022 for American Express? If gross margin is not a useful "
                "metric for a company like this, then please state that and explain why.")
    gold = "Performance is not measured through gross margin"  # the question's own words do not count
    assert correct("Its performance is not measured through gross margin [1].", gold, question)
    assert not correct("Gross margin rose because of higher card fees [1].", gold, question)
    question = "Which business segment of JnJ will be treated as a discontinued operation from August 30, 2023 onward?"
    gold = "The Consumer Health business segment will be treated as a discontinued operation from August 30, 2023 onward."
    assert gold_kind(gold, question) == "terms"  # the date is no figure
    assert correct("The Consumer Health segment [1].", gold, question)
    assert not correct("The Pharmaceutical segment, from August 30, 2023 [1].", gold, question)
    question = "Which type of debt received the largest investment among the short term investments for MGM in H1 FY2023?"
    gold = "the biggest short term investment is in corporate bonds (almost 82% of the total investment)"
    assert gold_kind(gold, question) == "terms"  # a name with a figure beside it
    assert correct("Corporate bonds, the biggest of the total [1].", gold, question)


def test_the_annotators_note_is_not_part_of_the_gold():
    gold = ("36%. The answer here assumes FY2023 refers to the 12 months ended on January 28, 2023 (although the "
            "company refers to this period as its fiscal 2022.")
    question = "What percent of Ulta Beauty's total spend on stock repurchases for FY 2023 occurred in Q4 of FY2023?"
    assert grade_answer("36% of the year's repurchases [1].", gold, question) == {"kind": "figure", "correct": True,
                                                                                  "missing": []}
    assert not correct("12 months [1].", gold, question)


@pytest.mark.skipif(not (FINANCEBENCH / "questions.jsonl").exists(), reason="FinanceBench is not in ../shared/datasets")
def test_every_gold_grades_itself_correct_and_kinds_cover_the_set():
    questions = load_questions(FINANCEBENCH)
    assert len(questions) == 54
    kinds = {q["financebench_id"]: gold_kind(q["answer"], q["question"]) for q in questions}
    assert all(correct(q["answer"], q["answer"], q["question"]) for q in questions)
    assert all(kinds[q["financebench_id"]] == "figure" for q in questions if q["question_type"] == "metrics-generated")
    assert set(kinds.values()) == {"figure", "yesno", "terms"}
    assert not any(correct("The documents do not say.", q["answer"], q["question"]) for q in questions)


def test_evidence_hit_means_most_passage_words_are_in_the_evidence():
    evidence = "Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420) Proceeds from sale"
    assert evidence_hit("Purchases of property, plant and equipment (PP&E) (1,577) (1,373)", evidence)
    assert not evidence_hit("Risk factors include competition and regulation in many markets.", evidence)
