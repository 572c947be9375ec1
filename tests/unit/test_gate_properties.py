"""Property tests of the gate's matching rules: VIP domains, keyword boundaries, group sizes."""

from __future__ import annotations

import string

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.gate import group_size, matched_keywords, vip_domain_for

# No example database: these runs must not leave files in the repository.
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, database=None)

SUFFIXES = ("s", "es", "d", "ed", "ing", "ly")
CONFIGURED_VIPS = ("majorclient.com", "bigcorp.net", "eu.majorclient.com", "labs.bigcorp.net")
CONFIGURED_KEYWORDS = ("group", "urgent", "custom", "reschedule", "custom request")

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True)
domains = st.lists(labels, min_size=2, max_size=4).map(".".join)
vip_domains = st.one_of(st.sampled_from(CONFIGURED_VIPS), domains)
alnum_prefixes = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=6)


@st.composite
def random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(ch.upper() if flip else ch for ch, flip in zip(text, flips, strict=True))


@PROPERTY_SETTINGS
@given(data=st.data(), local=labels, vip=vip_domains)
def test_exact_domain_and_true_subdomains_are_vip(
    data: st.DataObject, local: str, vip: str
) -> None:
    subdomain = data.draw(st.lists(labels, min_size=1, max_size=3).map(".".join))
    exact = data.draw(random_case(f"{local}@{vip}"))
    nested = data.draw(random_case(f"{local}@{subdomain}.{vip}"))
    assert vip_domain_for(exact, [vip]) == vip
    assert vip_domain_for(nested, [vip]) == vip


@PROPERTY_SETTINGS
@given(local=labels, vip=vip_domains, prefix=alnum_prefixes, tld=labels, other=domains)
def test_lookalike_domains_are_not_vip(
    local: str, vip: str, prefix: str, tld: str, other: str
) -> None:
    # Random domains can repeat themselves: "0.0" + ".0" is a true subdomain of "0.0".
    assume(not f"{vip}.{tld}".endswith("." + vip))
    assume(other != vip and not other.endswith("." + vip))
    assert vip_domain_for(f"{local}@{prefix}{vip}", [vip]) is None
    assert vip_domain_for(f"{local}@{vip}.{tld}", [vip]) is None
    assert vip_domain_for(f"{vip}@{other}", [vip]) is None


keywords = st.one_of(
    st.sampled_from(CONFIGURED_KEYWORDS),
    st.text(string.ascii_lowercase, min_size=3, max_size=10),
)


def _stems(keyword: str) -> list[str]:
    # "reschedul" also starts a matching form ("rescheduling"), so filler must avoid it too.
    return [word.removesuffix("e") if len(word) > 1 else word for word in keyword.split()]


@st.composite
def filler_words(draw: st.DrawFn, keyword: str) -> list[str]:
    word = st.text(string.ascii_lowercase, min_size=1, max_size=8).filter(
        lambda w: not any(stem in w for stem in _stems(keyword))
    )
    return draw(st.lists(word, max_size=8))


@st.composite
def matching_forms(draw: st.DrawFn, keyword: str) -> str:
    forms = [keyword] + [keyword + suffix for suffix in SUFFIXES]
    if keyword.endswith("e"):
        forms += [keyword[:-1] + "ing", keyword[:-1] + "ed"]
    return draw(random_case(draw(st.sampled_from(forms))))


def _insert(words: list[str], index: int, word: str, left: str, right: str) -> str:
    index = min(index, len(words))
    return " ".join(words[:index]) + left + word + right + " ".join(words[index:])


separators_left = st.sampled_from([" ", "\n", " (", ' "', "\t"])
separators_right = st.sampled_from([" ", "\n", ") ", ", ", ". ", "! ", "'s "])


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    keyword=keywords,
    index=st.integers(0, 8),
    left=separators_left,
    right=separators_right,
)
def test_keyword_as_a_separate_word_matches(
    data: st.DataObject, keyword: str, index: int, left: str, right: str
) -> None:
    words = data.draw(filler_words(keyword))
    form = data.draw(matching_forms(keyword))
    text = _insert(words, index, form, left, right)
    assert matched_keywords(text, [keyword]) == [keyword]


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    keyword=keywords,
    index=st.integers(0, 8),
    glue=st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=3),
)
def test_keyword_glued_after_other_letters_does_not_match(
    data: st.DataObject, keyword: str, index: int, glue: str
) -> None:
    words = data.draw(filler_words(keyword))
    form = data.draw(matching_forms(keyword))
    text = _insert(words, index, glue + form, " ", " ")
    assert matched_keywords(text, [keyword]) == []


@PROPERTY_SETTINGS
@given(
    data=st.data(),
    keyword=keywords,
    index=st.integers(0, 8),
    glue=st.text(string.ascii_letters, min_size=1, max_size=4).filter(
        lambda g: g.lower() not in SUFFIXES
    ),
)
def test_keyword_followed_by_a_foreign_ending_does_not_match(
    data: st.DataObject, keyword: str, index: int, glue: str
) -> None:
    words = data.draw(filler_words(keyword))
    word = data.draw(random_case(keyword + glue))
    text = _insert(words, index, word, " ", " ")
    assert matched_keywords(text, [keyword]) == []


# "#" stands for a random digit.
NOISE_TEMPLATES = (
    "+1 ### ### ####",
    "+1-###-###-####",
    "(###) ###-####",
    "###-###-####",
    "###.###.####",
    "+###########",
    "+44 ## #### ####",
    "$#",
    "$##",
    "$###",
    "$##.##",
    "$#,###",
    "€##",
    "£###",
    "##.##",
    "#,###",
    "#%",
    "##%",
    "#.#%",
    "#.#",
    "#/#",
    "##/##",
    "##/##/####",
    "####-##-##",
    "#.#.####",
    "##.##.####",
    "#:##",
    "##:##",
)
GROUP_CONTEXTS = (
    "{}",
    "team of {}",
    "group of {}",
    "party of {}",
    "{} people",
    "{} attendees",
    "{} of us",
    "for {} guests",
    "a {}-person team",
)


@st.composite
def noise_numbers(draw: st.DrawFn) -> str:
    template = draw(st.sampled_from(NOISE_TEMPLATES))
    return "".join(draw(st.sampled_from(string.digits)) if ch == "#" else ch for ch in template)


@PROPERTY_SETTINGS
@given(tokens=st.lists(noise_numbers(), min_size=1, max_size=5))
def test_phone_numbers_prices_and_dates_alone_are_not_group_sizes(tokens: list[str]) -> None:
    assert group_size(" ".join(tokens)) is None


@PROPERTY_SETTINGS
@given(token=noise_numbers(), context=st.sampled_from(GROUP_CONTEXTS))
def test_phone_numbers_prices_and_dates_in_group_phrases_are_not_group_sizes(
    token: str, context: str
) -> None:
    assert group_size(context.format(token)) is None


@PROPERTY_SETTINGS
@given(size=st.integers(1, 999), context=st.sampled_from(GROUP_CONTEXTS[1:]))
def test_plain_numbers_in_group_phrases_are_group_sizes(size: int, context: str) -> None:
    assert group_size(f"Hello, {context.format(size)}.") == size
