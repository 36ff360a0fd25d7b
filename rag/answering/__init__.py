"""Answering: one module per question shape or stage, composed by ``rag.pipeline``.

route      what shape the question has (factoid, list, comparison, summary, explanation,
           arithmetic, yes/no, follow-up)
span       a fact stated in one sentence: the short answer and the sentence that states it
claims     a few sentences, each with its [n] markers (lists, comparisons, explanations, summaries)
kinds      what a list asks for (people, of one country) and whether an item is of that kind
summary    what a summary reads: a document's central sentences, a card per document
arithmetic one expression over cited figures, computed safely and shown with its operands
check      every sentence checked against what it cites (names, numbers, meaning, the model's yes/no)
base       the records they share: ``Evidence`` and ``Part``, and ``render`` into text and citations
"""
