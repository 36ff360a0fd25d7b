"""The FinanceBench scoring rules."""
from eval.financebench import correct, evidence_hit


def test_numeric_answers_match_within_one_percent():
    assert correct("Capital expenditure was $1,577 million in FY2018 [1].", "$1577.00")
    assert correct("The ratio is 24.3.", "24.26")
    assert not correct("Capital expenditure was $1,373 million in 2017.", "$1577.00")
    assert not correct("It rose in 2018.", "$1577.00")  # years are not figures
    assert correct("2,018 [1]", "AMCOR's Adj. EBITDA was $2,018mn in FY 2023")  # a figure that reads like a year


def test_phrase_answers_need_most_gold_words():
    gold = "United States, EMEA, APAC, and LACC"
    assert correct("Segments: United States, EMEA, APAC and LACC [2].", gold)
    assert not correct("The company reports one segment.", gold)


def test_evidence_hit_means_most_passage_words_are_in_the_evidence():
    evidence = "Purchases of property, plant and equipment (PP&E) (1,577) (1,373) (1,420) Proceeds from sale"
    assert evidence_hit("Purchases of property, plant and equipment (PP&E) (1,577) (1,373)", evidence)
    assert not evidence_hit("Risk factors include competition and regulation in many markets.", evidence)
