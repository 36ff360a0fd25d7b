"""Sentence spans, content words, abstention phrases and citation records."""
import pytest

from rag.cite import content_words, is_abstention, make_citation, split_sentences
from rag.types import Passage

P1 = Passage("canada.txt", "canada.txt", "", "Administrator Oh Tae-seok signed the MOU with Lisa Campbell on the 14th. "
             "The meeting took place in Colorado Springs.", 100, 220, 0.1)


def test_split_sentences_spans():
    text = "First one. Second (Wed.) here! Third?\nFourth line"
    assert [text[s:e] for s, e in split_sentences(text)] == ["First one.", "Second (Wed.) here!", "Third?", "Fourth line"]


PDF_PAGE = """As a result of the completion of the exchange offer, Johnson & Johnson will now present its
Consumer Health business financial results as discontinued operations, including a gain of approximately $20 billion in the third quarter of
2023.
Consolidated Results of Operations
(Dollars in millions, except per share data)
Years ended December 31, 2022 2021 2020
Effective income tax rate (0.6) % 14.8 % 17.5 %
• Company secured $13.2 billion in cash proceeds from the Kenvue debt offering and initial public offering and maintains 9.5%
of equity stake in Kenvue
• Company maintains its quarterly dividend of $1.19 per share
Net loss attributable to Boeing Shareholders ($4,935) ($4,202) ($11,873)"""


def test_a_line_wrapped_by_the_page_width_does_not_end_a_sentence():
    got = [" ".join(PDF_PAGE[s:e].split()) for s, e in split_sentences(PDF_PAGE)]
    assert got == [
        "As a result of the completion of the exchange offer, Johnson & Johnson will now present its Consumer Health "
        "business financial results as discontinued operations, including a gain of approximately $20 billion in the "
        "third quarter of 2023.",
        "Consolidated Results of Operations",  # a heading, a unit, a header and a row end where they end
        "(Dollars in millions, except per share data)",
        "Years ended December 31, 2022 2021 2020",
        "Effective income tax rate (0.6) % 14.8 % 17.5 %",
        "• Company secured $13.2 billion in cash proceeds from the Kenvue debt offering and initial public offering "
        "and maintains 9.5% of equity stake in Kenvue",  # goes on in lower case
        "• Company maintains its quarterly dividend of $1.19 per share",  # a short line before a row
        "Net loss attributable to Boeing Shareholders ($4,935) ($4,202) ($11,873)",
    ]


def test_a_reply_keeps_a_sentence_per_line():
    reply = "Korea signed an arrangement on Earth observation with Canada\nKorea signed a partnership with the UK"
    assert len(split_sentences(reply, lines=True)) == 2


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
