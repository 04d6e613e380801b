"""Deterministic ids: pseudonyms stay the keyed HMAC-SHA256 every earlier audit row was grouped by."""

from __future__ import annotations

import hmac

from hypothesis import given
from hypothesis import strategies as st

from forewarn.processors.ids import notification_id, pseudonymise


@given(customer_id=st.text(max_size=40), key=st.text(max_size=100))  # keys past the 64-byte block too
def test_a_pseudonym_is_the_hmac_of_the_customer_id(customer_id: str, key: str) -> None:
    expected = "cus_" + hmac.digest(key.encode(), customer_id.encode(), "sha256").hex()[:24]
    assert pseudonymise(customer_id, key) == expected


def test_a_pseudonym_depends_on_the_key_and_repeats_for_the_same_one() -> None:
    assert pseudonymise("c-1", "a") == pseudonymise("c-1", "a") != pseudonymise("c-1", "b")
    assert pseudonymise("c-1", "a") != pseudonymise("c-2", "a")


def test_notification_ids_are_one_per_update_customer_and_channel() -> None:
    ids = {notification_id("inc", v, c, ch) for v in (1, 2) for c in ("c-1", "c-2") for ch in ("email", "sms")}
    assert len(ids) == 8
    assert notification_id("inc", 1, "c-1", "email") == notification_id("inc", 1, "c-1", "email")
