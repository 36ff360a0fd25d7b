"""Sentence spans, content words, abstention phrases and citation records."""
import pytest

from rag.cite import content_words, is_abstention, make_citation, split_sentences
from rag.types import Passage

P1 = Passage("canada.txt", "canada.txt", "", "Administrator Oh Tae-seok signed the MOU with Lisa Campbell on the 14th. "
             "The meeting took place in Colorado Springs.", 100, 220, 0.1)


def test_split_sentences_spans():
    text = "First one. Second (Wed.) here! Third?\nFourth line"
    assert [text[s:e] for s, e in split_sentences(text)] == ["First one.", "Second (Wed.) here!", "Third?", "Fourth line"]


def test_content_words_are_stemmed_without_stopwords():
    assert content_words("Who signed the agreements?") == {"sign", "agreement"}


def test_citation_quotes_its_sentence_with_document_offsets():
    c = make_citation(1, P1, split_sentences(P1.text)[1], 0.8)
    assert (c.number, c.doc_id, c.start, c.end) == (1, "canada.txt", 100, 220)
    assert c.quote == "The meeting took place in Colorado Springs."
    assert c.text[c.quote_start - c.start : c.quote_end - c.start] == c.quote


@pytest.mark.parametrize("text", ["The documents do not say.", "I don't know.", "The sources do not mention the budget."])
def test_abstention_phrases(text):
    assert is_abstention(text)


def test_normal_answers_are_not_abstentions():
    assert not is_abstention("Oh Tae-seok signed the MOU [1].")
