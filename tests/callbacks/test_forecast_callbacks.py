"""The what-if page's display callbacks read the result store as the server wrote it; anything else is a 400."""

from __future__ import annotations

import pytest

from callbacks.forecast import checked_answer, figures_body, roi_body, sentence_of
from callbacks.request_guards import BadCallbackInput


@pytest.mark.parametrize("crafted", [
    12345, "x" * 9000, ["notice"], True, 3.5,
    {"notice": 5, "kind": "bad"}, {"notice": "n", "kind": "evil"}, {"notice": "n", "kind": "bad", "extra": 1},
    {"notice": "x" * 5000, "kind": "bad"}, {"channel": "TipTop"}, {"cac": "cheap", "channel": "TipTop"},
])
def test_fcc001_a_crafted_result_is_refused_by_every_reader(crafted):
    for reader in (checked_answer, figures_body, roi_body, lambda a: sentence_of(checked_answer(a))):
        with pytest.raises(BadCallbackInput, match="fc-result|must be an object|notice|what-if"):
            reader(crafted)


def test_fcc002_no_answer_and_notices_pass():
    assert checked_answer(None) is None and checked_answer({}) is None
    notice = {"notice": "days: must be <= 90", "kind": "bad"}
    assert checked_answer(notice) == notice
    assert "days: must be <= 90" in str(figures_body(notice)) and sentence_of(notice) == ""
