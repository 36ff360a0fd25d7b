"""What kind of thing a list question asks for, and whether an item is of that kind (rules, no model)."""
from __future__ import annotations

import pytest

from rag.answering.kinds import asks_people, from_place_asked, is_body, names_person, of_kind, people_in

KOREAN = "Which Korean officials are named in these documents?"


@pytest.mark.parametrize("question, people", [
    (KOREAN, True),
    ("Who attended the symposium?", True),
    ("List the ministers who signed the MoU.", True),
    ("Which US government bodies were represented at the symposium?", False),
    ("List the areas of cooperation covered by the Korea–Canada MOU.", False),
    ("Which countries banned flying on Sundays?", False),
])
def test_a_question_asks_for_people_by_its_asked_words(question, people):
    assert asks_people(question) is people


def test_a_person_is_named_by_a_role_before_the_name():
    assert names_person("Daejeon Mayor Lee Jang-woo attended the Conference of Montreal.")
    assert names_person("signed by the United Kingdom Secretary of State Michelle Donelan")
    assert names_person("Minister of Science and ICT Lee Jong Ho")
    assert not names_person("The Ministry of Science and ICT announced the signing.")
    assert not names_person("Korea Aerospace Research Institute (KARI)")


def test_a_short_item_headed_by_a_body_is_a_body_and_a_sentence_is_not_judged():
    assert is_body("Agency for Defense Development (ADD)") and is_body("Korea Aerospace Research Institute (KARI)")
    assert not is_body("members of the National Space Committee")
    assert not is_body("Korea AeroSpace Administration (KASA) Administrator Oh Tae-seok")
    assert not is_body("The Korea Aerospace Research Institute and the Agency for Defense Development are located in Daedeok")


@pytest.mark.parametrize("question, item, kept", [
    (KOREAN, "Korea Aerospace Administration (KASA) Administrator Oh Tae-seok", True),
    (KOREAN, "Canadian Space Agency Administrator Lisa Campbell", False),  # another country
    (KOREAN, "Agency for Defense Development (ADD)", False),  # a body, not an official
    (KOREAN, "Daejeon Mayor Lee Jang-woo", True),  # names no country: kept
    ("Which US government bodies were represented at the symposium?", "Department of Commerce", True),
    ("Which US government bodies were represented at the symposium?", "Korea AeroSpace Administration", False),
    ("Which countries besides the US signed the Accords?", "Canada", True),  # it asks for countries
    ("List the areas of cooperation covered by the Korea–Canada MOU.", "space exploration", True),
])
def test_an_item_of_another_kind_or_country_than_asked_is_no_answer(question, item, kept):
    assert of_kind(question, item) is kept


def test_people_are_found_with_the_body_or_place_before_their_role():
    text = ("According to the agency, Korea AeroSpace Administration (KASA) Administrator Oh Tae-seok met Canadian Space "
            "Agency Administrator Lisa Campbell; Minister Lee Jong Ho and the United Kingdom Secretary of State Michelle "
            "Donelan signed on President Yoon Suk Yeol's state visit, with MSIT Vice Minister and UK officials.")
    assert people_in(text) == ["Korea AeroSpace Administration (KASA) Administrator Oh Tae-seok",
                               "Canadian Space Agency Administrator Lisa Campbell", "Minister Lee Jong Ho",
                               "United Kingdom Secretary of State Michelle Donelan", "President Yoon Suk Yeol"]


def test_a_passage_is_from_the_place_asked_when_it_names_that_country():
    assert from_place_asked(KOREAN, "Daejeon is the centre of South Korea's research.")
    assert not from_place_asked(KOREAN, "President Charles opened the session in London.")
    assert from_place_asked("Who attended the symposium?", "President Charles opened the session in London.")
