"""What tool search finds a tool by: its :class:`Document`, and the aggregate it is scored by.

A :class:`Document` is what a tool is found by: weighted fields (its name, description and
parameters), the phrasings of its confirmed uses, and the phrasings users rejected it for.
Its **aggregate document** is the fields and the confirmed phrasings together, each
phrasing's words counting ``use_weight`` (:func:`aggregate_texts`); for an embedder of
texts, its aggregate row is the weighted mean of its texts' rows, re-normalised
(:func:`aggregate_row`). The in-process index (:class:`~selfeng.core.search.ToolIndex`) and
a vector store's (:mod:`selfeng.infra.store.tool_vectors`) make the same aggregate rows from
these, so their scores are the same.

A document holds its confirmed phrasings with their ``{param}`` placeholders and ``#``
digits already taken out (:func:`strip_placeholders`), its rejected ones as learnt (taken out
when they are compared). :func:`fingerprint` is a content hash of a set of documents as an
embedder sees them: an index of the same content is not built again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_PLACEHOLDER = re.compile(r"\{[^{}]*\}|#")


def strip_placeholders(phrasing: str) -> str:
    """A phrasing template's words: ``{param}`` placeholders and ``#`` digits taken out."""
    return " ".join(_PLACEHOLDER.sub(" ", phrasing).split())


@dataclass(frozen=True)
class Document:
    """What one tool is found by."""

    fields: tuple[tuple[str, float], ...]
    """Texts of the tool itself (name, description, parameters), each with its weight."""
    uses: tuple[str, ...] = ()
    """Confirmed phrasings, placeholders already stripped."""
    rejected: tuple[str, ...] = ()
    """Rejected phrasing templates, as learnt (``{param}`` and ``#`` still in)."""


Documents = Mapping[str, "str | Sequence[str] | Document"]
"""Document id -> a :class:`Document`, or a text, or texts (fields of weight 1)."""


def as_document(value: str | Sequence[str] | Document) -> Document:
    """A text or a list of texts as a document whose fields they are (weight 1 each)."""
    if isinstance(value, Document):
        return value
    if isinstance(value, str):
        return Document(((value, 1.0),))
    return Document(tuple((text, 1.0) for text in value))


def aggregate_texts(document: Document, use_weight: float) -> list[tuple[str, float]]:
    """The texts a document's aggregate row is the weighted mean of, with their weights.

    A mean of embeddings does not saturate as BM25 does, so a tool's confirmed phrasings
    together weigh at most what its fields weigh: many uses pull its row towards them, never
    all the way. Texts of weight 0 are left out."""
    fields = sum(w for _, w in document.fields)
    share = min(use_weight, fields / len(document.uses)) if document.uses else 0.0
    weighted = [*document.fields, *((text, share) for text in document.uses)]
    return [(text, weight) for text, weight in weighted if weight > 0]


def aggregate_row(
    rows: npt.NDArray[np.float32], weights: Sequence[float]
) -> npt.NDArray[np.float32]:
    """The weighted sum of dense ``rows`` (one per weight), L2-normalised (zeros stay zeros)."""
    summed = np.asarray(weights, dtype=np.float32) @ rows
    vector = np.asarray(summed, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    out: npt.NDArray[np.float32] = vector / norm if norm > 0 else vector
    return out


def fingerprint(embedder_name: str, documents: Documents, *settings: float) -> str:
    """A content hash of the documents as an embedder sees them (order of ids ignored)."""
    digest = hashlib.sha256(embedder_name.encode())
    digest.update(repr(settings).encode())
    for doc_id in sorted(documents):
        document = as_document(documents[doc_id])
        digest.update(b"\x1d" + doc_id.encode("utf-8", "surrogatepass"))
        for text, weight in document.fields:
            digest.update(f"\x1f{weight!r}\x1f".encode() + text.encode("utf-8", "surrogatepass"))
        for tag, texts in ((b"\x1e", document.uses), (b"\x1c", document.rejected)):
            for text in texts:
                digest.update(tag + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
