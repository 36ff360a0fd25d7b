"""Sentence scoring, specific terms and reranking (no model needed)."""
from dataclasses import replace

from rag.config import Settings
from rag.evidence import Weights, as_passage, negated, rerank, score_sentences, specific_terms, terms_of
from rag.types import Passage

CANADA = Passage("ca.txt", "ca.txt", "Korea and Canada", "KASA Administrator Oh Tae-seok held an MOU signing ceremony with "
                 "Canadian Space Agency Administrator Lisa Campbell on the 14th. The venue was the 41st Space Symposium.",
                 0, 160, 0.4, "ca.txt#0")
UK = Passage("uk.txt", "uk.txt", "Korea and the UK", "The MoU on space cooperation was signed by Minister Lee Jong Ho and "
             "the United Kingdom Secretary of State Michelle Donelan. Korea and the UK agreed to cooperate in space.",
             500, 690, 0.6, "uk.txt#3")


def test_specific_terms_are_names_and_numbers_not_question_words():
    assert specific_terms("Who signed the space MoU for Korea with the Canadian Space Agency?") == {
        "space", "mou", "korea", "canadian", "agenc"}
    assert specific_terms("What happened on the 14th in 2023?") == {"14", "2023"}
    assert specific_terms("how often is the alarm tested?") == set()


def test_ordinals_match_their_number():
    assert "41" in terms_of("the 41st Space Symposium") and "41" in terms_of("Symposium no. 41")


def test_a_hyphenated_name_is_its_words_as_in_the_bm25_vocabulary():
    # "Korea-Canada" is two names: as one word it would weigh as a term no chunk holds, and no
    # sentence about the Korea-Canada MOU could cover the question
    assert {"korea", "canada"} <= terms_of("the Korea-Canada MOU") and {"korea", "canada"} <= specific_terms("Was the Korea-Canada MOU signed?")
    q = "Did the Korea-Canada MOU signing take place in Seoul?"
    assert score_sentences(q, [CANADA], Weights())[0].coverage > 0.5


def test_sentence_window_coverage_and_specific_terms():
    q = "Who signed the space memorandum with the Canadian Space Agency?"
    scored = score_sentences(q, [UK, CANADA], Weights())
    best = scored[0]
    assert best.passage == 1 and best.specific == 1.0
    uk = max((s for s in scored if s.passage == 0), key=lambda s: s.score)
    assert uk.specific < 1.0 and uk.coverage < best.coverage


def test_a_country_named_another_way_is_a_named_term_of_the_sentence():
    # "American" is a specific term; a sentence that says "the United States" names it (rag.places)
    venue = Passage("ca.txt", "ca.txt", "", "The MoU was signed at the Space Symposium in Colorado Springs, the United "
                    "States.", 0, 80, 0.4, "ca.txt#1")
    scored = score_sentences("In which American city was the agreement signed?", [venue], Weights())
    assert scored[0].specific == 1.0
    assert score_sentences("In which French city was the agreement signed?", [venue], Weights())[0].specific == 0.0


def test_negations_are_told_from_words_that_only_look_like_them():
    for text in ("What did the government not fail to do?", "When wasn't the war?", "Who never signed?",
                 "When was the non-Muslim Brotherhood founded?"):
        assert negated(text), text
    for text in ("When was the Muslim Brotherhood founded?", "Can we tell whether or not it halts?", "Who knows now?"):
        assert not negated(text), text


def test_a_question_about_what_is_not_so_needs_a_window_that_negates_something():
    plain = Passage("b.txt", "b.txt", "", "The Italian government failed to set up an insurance fund.", 0, 58, 0.5, "b.txt#0")
    negative = replace(plain, text="The Italian government did not set up an insurance fund.", chunk_id="b.txt#1")
    asked = "What did the Italian government not fail to do?"
    assert not score_sentences(asked, [plain], Weights())[0].polarity
    assert score_sentences(asked, [negative], Weights())[0].polarity
    assert score_sentences("What did the Italian government fail to do?", [plain], Weights())[0].polarity


def test_rerank_puts_the_passage_about_the_asked_entity_first():
    # The UK passage has a slightly higher retrieval score; the question is about Canada.
    q, weight = "Who signed the space MoU with the Canadian Space Agency?", Settings().rerank_fused_weight
    close = replace(CANADA, score=0.95 * UK.score)
    assert [p.doc_id for p in rerank(q, [UK, close], Weights(), weight)] == ["ca.txt", "uk.txt"]
    # Far behind in retrieval, its sentences alone do not lift it (the weight is tuned on SciFact
    # and the seeds); the evidence selection and the answer checks still weigh the asked entity.
    far = replace(CANADA, score=0.5 * UK.score)
    assert [p.doc_id for p in rerank(q, [UK, far], Weights(), weight)] == ["uk.txt", "ca.txt"]


def test_evidence_sentence_keeps_document_offsets():
    doc_text = " " * CANADA.start + CANADA.text
    quotes = []
    for s in score_sentences("Where was the venue?", [CANADA], Weights()):
        e = as_passage(CANADA, s.start, s.end, s.score)
        assert doc_text[e.start:e.end] == e.text
        quotes.append(e.text)
    assert "The venue was the 41st Space Symposium." in quotes and len(quotes) == 2
