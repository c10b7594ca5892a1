"""Text rules: the blank rule and its schema pattern, and each step of undoing obfuscation."""

from __future__ import annotations

import re
import time

import pytest

from modeldistill.synthetic.cases import check_sentences
from modeldistill.synthetic.check_frames import SPELLING_CASE
from modeldistill.text import (
    TextPrep,
    deobfuscate,
    deobfuscate_characters,
    is_blank,
    join_spaced_letters,
    map_lookalikes,
    remove_invisible,
    resolve_bidi,
    undo_leetspeak,
    visible_pattern,
)

BLANK = {
    "variation selector 1": "\ufe00",
    "variation selector 16": "\ufe0f",
    "variation selectors supplement": "\U000e0100\U000e01ef",
    "combining acute alone": "\u0301",
    "enclosing circle alone": "\u20dd",
    "combining grapheme joiner": "\u034f",
    "private use, plane 0": "\ue000\uf8ff",
    "private use, planes 15 and 16": "\U000f0000\U0010fffd",
    "braille blank": "\u2800",
    "hangul choseong filler": "\u115f",
    "hangul jungseong filler": "\u1160",
    "hangul filler": "\u3164",
    "halfwidth hangul filler": "\uffa0",
    "a mix of them with spaces": " \u3164\u2800 \ufe0f\u034f\u200b ",
}
VISIBLE = {
    "accented letter": "e\u0301",
    "emoji with its selector": "\u2764\ufe0f",
    "braille dot 1": "\u2801",
    "hangul letter": "\u3131",
    "letter after fillers": "\u3164\u3164a",
}


@pytest.mark.parametrize("text", BLANK.values(), ids=BLANK.keys())
def test_texts_that_draw_nothing_are_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", VISIBLE.values(), ids=VISIBLE.keys())
def test_texts_with_something_drawn_are_not_blank(text):
    assert not is_blank(text)


def test_the_schema_pattern_matches_exactly_the_visible_code_points():
    visible_pattern.cache_clear()
    started = time.perf_counter()
    pattern = re.compile(visible_pattern())
    assert time.perf_counter() - started < 1.0
    # Every code point of every plane, also those the pattern's builder skips as all visible.
    scalars = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    matched = pattern.findall(scalars)
    assert matched == [char for char in scalars if not is_blank(char)]


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("\u202estnargimmi lla llik\u202c", "kill all immigrants"),
        ("they said \u202eetah\u202c loudly", "they said hate loudly"),
        # An override ends at the end of its paragraph even without U+202C.
        ("\u202eba\ncd", "ab\ncd"),
        # A left-to-right override inside a right-to-left one keeps its own order.
        ("x\u202eab\u202dcd\u202cef\u202cy", "xfecdbay"),
        # Isolates, embeddings and marks reorder no Latin letter: only dropped.
        ("a\u2067bc\u2069d\u202bef\u202c\u200fg", "abcdefg"),
        ("no controls at all", "no controls at all"),
    ],
)
def test_bidi_overrides_are_read_as_displayed(stored, shown):
    assert resolve_bidi(stored) == shown


def test_invisible_characters_inside_words_are_removed():
    assert remove_invisible("k\u200bi\u00adl\u2060l a\u200dl\u200cl \ufeffthem") == "kill all them"
    # Joiners shape emoji sequences and non-Latin scripts; there they stay.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert remove_invisible(family) == family
    assert remove_invisible(persian) == persian


def test_lookalike_letters_in_latin_words_become_latin():
    assert map_lookalikes("kill аll immigrаnts, thеy аrе pаrаsitеs") == (
        "kill all immigrants, they are parasites"
    )
    assert map_lookalikes("Ηate Μuslims") == "Hate Muslims"  # Greek capitals
    # Words made only of lookalikes, in a mostly Latin text.
    assert map_lookalikes("they аrе sсum, а рest") == "they are scum, a pest"


@pytest.mark.parametrize(
    "text",
    [
        "Это хорошо, спасибо за помощь",
        "Καλημέρα κόσμε, τι κάνεις;",
        "Ρωσία και Ελλάδα",  # Greek capitals that look Latin, in a Greek text
        "שלום עולם",
        "café, Straße, señor, naïve, Ærøskøbing",
    ],
)
def test_texts_in_other_scripts_and_accented_latin_are_untouched(text):
    assert deobfuscate(text) == text


def test_fullwidth_mathematical_and_circled_letters_become_plain():
    assert deobfuscate_characters("ｋｉｌｌ ａｌｌ") == "kill all"
    assert deobfuscate_characters("\U0001d424\U0001d422\U0001d425\U0001d425") == "kill"
    assert deobfuscate_characters("ⓚⓘⓛⓛ Ⓜⓤⓢⓛⓘⓜⓢ") == "kill Muslims"


@pytest.mark.parametrize(
    ("spaced", "joined"),
    [
        ("I m m i g r a n t s are welcome", "Immigrants are welcome"),
        ("I r e p o r t e d the post", "I reported the post"),
        ("i h a t e mondays", "i hate mondays"),
        ("they are a p l a g u e", "they are a plague"),
        ("A d i s a b l e d person", "A disabled person"),
        ("I s l a m is a faith", "Islam is a faith"),
        ("what an a s s", "what an ass"),
        ("a b e t t e r place", "a better place"),
        ("we i n v i t e them", "we invite them"),
        ("they are d i s g u s t i n g", "they are disgusting"),
        ("k.i.l.l them", "kill them"),
        ("k-i-l-l them", "kill them"),
        ("a b stays", "a b stays"),
        ("J K Rowling", "J K Rowling"),
        ("mixed k i.l l", "mixed k i.l l"),
    ],
)
def test_letter_spaced_words_are_joined(spaced, joined):
    assert join_spaced_letters(spaced) == joined


@pytest.mark.parametrize(
    ("leet", "plain"),
    [
        ("you 1d10t", "you idiot"),
        ("k1ll them", "kill them"),
        ("w0r7hl355 p4r4s1t3s", "worthless parasites"),
        ("r475 and dyk35", "rats and dykes"),
        ("I h@te $cum", "I hate scum"),
        ("5 people in 2024", "5 people in 2024"),
        ("the 1st at 5pm, 4k video", "the 1st at 5pm, 4k video"),
        ("covid19 and b2b and mp3", "covid19 and b2b and mp3"),
        ("hi @us3r", "hi @us3r"),
        ("$100 or 3.14", "$100 or 3.14"),
    ],
)
def test_leetspeak_inside_words_is_written_out_and_numbers_stay(leet, plain):
    assert undo_leetspeak(leet) == plain


def test_plain_check_sentences_pass_unchanged():
    # A harmless or hateful sentence spelt plainly is what the model was trained on: no step may
    # change it (only the check's own misspelt variants are changed).
    for sentence in check_sentences():
        if sentence.case != SPELLING_CASE:
            assert deobfuscate(sentence.text) == sentence.text


def test_text_prep_records_deobfuscation_and_old_configs_keep_theirs():
    old = TextPrep.from_dict({"clean": True, "emoji_names": True})
    assert not old.deobfuscate and old.to_dict() == {"clean": True, "emoji_names": True}
    on = old.with_deobfuscation()
    assert on.deobfuscate and on.clean and on.emoji_names
    assert TextPrep.from_dict(on.to_dict()) == on
    assert on.to_dict()["deobfuscate"] is True
    assert TextPrep(deobfuscate=True).active
    text = "ｋｉｌｌ @j0hn at http://x.io/a1b k1ll"
    assert old(text) == "ｋｉｌｌ @user at http k1ll"
    assert on(text) == "kill @user at http kill"


@pytest.mark.parametrize(
    ("text", "source", "target", "expected"),
    [
        ("Muslims are lazy", "muslims", "black", "Black people are lazy"),
        ("I met a Muslim today", "muslims", "indians", "I met an Indian today"),
        ("an immigrant moved in", "immigrants", "trans", "a trans person moved in"),
        ("a black person and black people", "black", "women", "a woman and women"),
        ("blacks should go", "black", "jews", "Jews should go"),
        ("Judaism is old; jews pray", "jews", "muslims", "Judaism is old; Muslims pray"),
        ("the weather is nice", "jews", "muslims", "the weather is nice"),
        # whole words only: "transport" does not name trans people
        ("trans people take transport", "trans", "deaf", "deaf people take transport"),
    ],
)
def test_swap_identity_replaces_one_group_by_another(text, source, target, expected):
    from modeldistill.synthetic.identity import swap_identity

    assert swap_identity(text, source, target) == expected


def test_swap_identity_refuses_an_unknown_group():
    from modeldistill.synthetic.identity import swap_identity

    with pytest.raises(ValueError, match="unknown identity group 'martians'"):
        swap_identity("hello", "muslims", "martians")
