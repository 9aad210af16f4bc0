"""The index's per-request fast path gives the same similarities as embedding the request."""

from __future__ import annotations

import numpy as np

from selfeng.core.search import ToolIndex
from selfeng.infra.embed_lexical import LexicalEmbedder

DOCS = {
    "percent_of": ["percent of: what percent % of a value is", "what is 25% of 100"],
    "reverse_string": "reverse string: a text's characters in reverse order",
    "convert_length": "convert length: km, miles, feet between units",
}


class SlowLexical(LexicalEmbedder):
    """The same embedder without the fast path."""

    query_terms = None  # type: ignore[assignment]


def test_fast_and_slow_paths_agree() -> None:
    fast, slow = ToolIndex(LexicalEmbedder()), ToolIndex(SlowLexical())
    fast.build(DOCS)
    slow.build(DOCS)
    for query in [
        "What is 25% of 100?",
        "what is 25% of 100",
        "reverse the string hello",
        "convert 10 km to miles",
        "nothing known here",
        "",
    ]:
        np.testing.assert_allclose(fast.similarities(query), slow.similarities(query), atol=1e-6)
    ((best, score),) = fast.search("what is 25% of 100", 1)
    assert best == "percent_of"
    assert score > 0.99  # a learnt phrasing, repeated word for word
