"""Citation parsing and verification, with the real embedder."""
import pytest

from rag.cite import Verifier, is_abstention, parse, split_sentences
from rag.embed import get_embedder
from rag.types import Passage

P1 = Passage("canada.txt", "canada.txt", "", "Administrator Oh Tae-seok signed the MOU with Lisa Campbell on the 14th. "
             "The meeting took place in Colorado Springs.", 100, 220, 0.1)
P2 = Passage("uk.txt", "uk.txt", "", "Minister Lee Jong Ho and Michelle Donelan signed the digital partnership on November 22nd.",
             500, 590, 0.09)


@pytest.fixture(scope="module")
def verifier():
    return Verifier(get_embedder(), min_support=0.45)


def test_split_sentences_spans():
    text = "First one. Second (Wed.) here! Third?\nFourth line"
    assert [text[s:e] for s, e in split_sentences(text)] == ["First one.", "Second (Wed.) here!", "Third?", "Fourth line"]


def test_parse_markers_in_all_positions():
    got = parse("Oh signed it. [1] He met Campbell [2]. On the 14th [1][3], [2] and [4, 5].")
    assert [(s.text, s.cited) for s in got] == [
        ("Oh signed it.", [1]), ("He met Campbell.", [2]), ("On the 14th, and.", [1, 3, 2, 4, 5])]


def test_supported_claim_keeps_its_citation_and_quote(verifier):
    text, cites, unsupported = verifier.verify("Oh Tae-seok signed the MOU [1].", [P1, P2], "Who signed the MOU?")
    assert text == "Oh Tae-seok signed the MOU [1]." and not unsupported
    c = cites[0]
    assert (c.number, c.doc_id, c.start, c.end) == (1, "canada.txt", 100, 220)
    assert c.quote == "Administrator Oh Tae-seok signed the MOU with Lisa Campbell on the 14th."
    assert c.text[c.quote_start - c.start : c.quote_end - c.start] == c.quote


def test_wrong_and_dangling_markers_are_fixed_or_removed(verifier):
    # [2] points at the wrong passage, [7] at no passage at all
    text, cites, _ = verifier.verify("The meeting was in Colorado Springs [2][7].", [P1, P2], "Where was the meeting?")
    assert text == "The meeting was in Colorado Springs [1]."
    assert [c.doc_id for c in cites] == ["canada.txt"]


def test_unmarked_claim_gets_the_supporting_passage(verifier):
    text, cites, _ = verifier.verify("Michelle Donelan signed the digital partnership.", [P1, P2], "Who signed for the UK?")
    assert text.endswith("[1].") and cites[0].doc_id == "uk.txt"


def test_unsupported_claims_are_dropped(verifier):
    text, cites, unsupported = verifier.verify(
        "Oh Tae-seok signed the MOU [1]. The agreement is worth 5 billion dollars [1].", [P1, P2], "What was agreed?")
    assert text == "Oh Tae-seok signed the MOU [1]." and len(cites) == 1
    assert unsupported == ["The agreement is worth 5 billion dollars."]


def test_an_echo_of_the_question_is_not_an_answer(verifier):
    text, cites, _ = verifier.verify("The MOU was signed [1].", [P1], "Who signed the MOU?")
    assert text == "" and cites == []


def test_citations_are_renumbered_in_order_of_use(verifier):
    text, cites, _ = verifier.verify("Donelan signed the partnership on November 22nd [2]. Oh Tae-seok met Lisa Campbell [1].",
                                     [P1, P2], "Who signed what?")
    assert text == "Donelan signed the partnership on November 22nd [1]. Oh Tae-seok met Lisa Campbell [2]."
    assert [c.doc_id for c in cites] == ["uk.txt", "canada.txt"]


@pytest.mark.parametrize("text", ["The documents do not say.", "I don't know.", "The sources do not mention the budget."])
def test_abstention_phrases(text):
    assert is_abstention(text)


def test_normal_answers_are_not_abstentions():
    assert not is_abstention("Oh Tae-seok signed the MOU [1].")


@pytest.mark.parametrize("raw", ["The meeting took place in Colorado Springs.[1].",
                                 "The meeting took place in Colorado Springs. [1]."])
def test_a_marker_between_two_full_stops_leaves_one(verifier, raw):
    text, _, _ = verifier.verify(raw, [P1, P2], "Where was the meeting?")
    assert text == "The meeting took place in Colorado Springs [1]."
