"""Country names for lexical matching (rag.places): no model needed."""
from __future__ import annotations

from rag.places import expand


def test_a_demonym_brings_the_country_names():
    expanded = expand("Did a British cabinet member sign?")
    assert expanded.startswith("Did a British cabinet member sign? ")
    assert "United Kingdom" in expanded and "Great Britain" in expanded and " UK" in expanded


def test_a_shared_demonym_stands_for_the_most_populous_country():
    expanded = expand("In what American city was it signed?")
    assert "United States" in expanded and "Samoa" not in expanded


def test_iso_codes_and_words_that_are_not_country_names_change_nothing():
    for query in ("What AI systems does IT use?", "How do cells divide?", "Is it IN stock?", "Who is in the uk?"):
        assert expand(query) == query


def test_capitalised_forms_match_only_in_capitals_and_nothing_is_said_twice():
    expanded = expand("Which UK agency and which United Kingdom minister?")
    assert expanded.count("United Kingdom") == 1 and "British" in expanded


def test_bm25_matches_a_demonym_to_the_country_name():
    import bm25s

    from rag.index import tokenize

    texts = ["The agreement was signed in London by the United Kingdom minister.",
             "The agreement was signed in Ottawa by the Canadian minister."]
    retriever = bm25s.BM25()
    retriever.index(tokenize(texts), show_progress=False)

    def scores(query: str):
        tokens = tokenize([query])
        words = {i: w for w, i in tokens.vocab.items()}
        return retriever.get_scores([words[i] for i in tokens.ids[0] if words[i] in retriever.vocab_dict])

    question = "Which British minister signed the agreement?"
    literal, expanded = scores(question), scores(expand(question))
    assert literal[0] <= literal[1] and expanded[0] > 2 * expanded[1]


def test_us_names_the_united_states_in_a_claim_but_expands_no_search():
    from rag.places import expand, others

    assert "United States" in others("The US withdrawal from Bretton Woods")["US"]
    assert "US" not in others("let us go")
    assert expand("what did the US sign") == "what did the US sign"
    assert "US" not in expand("American agencies").split()


def test_short_forms_name_the_country_but_expand_no_search():
    from rag.evidence import score_sentences, Weights
    from rag.places import expand, others
    from rag.types import Passage

    assert "ROK" in others("the Korea–US symposium")["Korea"] and "Britain" in others("the UK minister")["UK"]
    assert expand("When did the Korea–US symposium take place?") == "When did the Korea–US symposium take place?"
    # a release that writes "ROK-US" names the Korea of the question
    release = Passage("r.txt", "r.txt", "", "MSIT co-hosted the ROK-US Space Industry Symposium on November 8th.",
                      0, 70, 0.5, "r.txt#0")
    assert score_sentences("When was the Korea–US symposium held?", [release], Weights())[0].specific == 1.0


def test_a_passage_about_other_countries_than_the_question_is_told_apart():
    from rag.places import of_other_countries

    question = "After signing, what body will Korea and Canada create to come up with joint initiatives?"
    # a Korea–UK release lacks Canada and names the UK: about another pair
    assert of_other_countries(question, "ROK-UK Digital Partnership\nBoth countries will organize joint working groups.")
    # the Korea–Canada release, however it writes the names, and a passage naming no country at all, are not
    assert not of_other_countries(question, "KASA and the Canadian Space Agency will launch a working-level group.")
    assert not of_other_countries(question, "The two sides plan to launch a working-level group.")
    # a question naming no country is about none in particular; a country form opening a name names none
    assert not of_other_countries("Who signed the MoU?", "ROK-UK Digital Partnership signed by Michelle Donelan.")
    assert not of_other_countries("What was the largest liability of American Express in 2022?",
                                  "Customer deposits were the largest item; the company operates in the United Kingdom.")
