"""``personalise`` fills from a cached split of the draft: the same words a regex pass gives."""

from __future__ import annotations

import re
from html import escape

from hypothesis import given
from hypothesis import strategies as st

from forewarn.processors.draft.facts import PLACEHOLDER
from forewarn.processors.draft.render import Draft, personalise

NAMES = ["account", "eta", "eta_short", "unknown", "x1"]
piece = st.one_of(
    st.sampled_from([f"{{{n}}}" for n in NAMES]),
    st.text(alphabet="ab {}<>&_\n", max_size=8),
)
texts = st.lists(piece, max_size=12).map("".join)
values = st.dictionaries(st.sampled_from([*NAMES[:3], "x1"]), st.text(alphabet="A&<b>'\" é", max_size=6))


def reference(text: str, vals: dict[str, str], html: bool) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in vals:
            return match.group(0)
        return escape(vals[name]) if html else vals[name]

    return PLACEHOLDER.sub(one, text)


@given(subject=st.none() | texts, text=texts, html=st.none() | texts, vals=values)
def test_filled_like_a_regex_pass(subject: str | None, text: str, html: str | None, vals: dict[str, str]) -> None:
    filled = personalise(Draft("t", subject, text, html), vals)
    assert filled.subject == (None if subject is None else reference(subject, vals, False))
    assert filled.text == reference(text, vals, False)
    assert filled.html == (None if html is None else reference(html, vals, True))


def test_a_reader_never_sees_another_readers_values() -> None:
    """The split is shared; what one reader's values filled in must not stay in it."""
    draft = Draft("t", "Hi {account}", "Dear {account}, fixed by {eta}.", "<p>{account}</p>")
    first = personalise(draft, {"account": "Acme & Co", "eta": "10:30"})
    second = personalise(draft, {"account": "Globex"})
    assert first.html == "<p>Acme &amp; Co</p>"
    assert second.text == "Dear Globex, fixed by {eta}."
    assert second.subject == "Hi Globex"
