"""Character counts."""

import unicodedata


def count_characters(text: str, include_spaces: bool = True) -> int:
    """Count the characters in a text, every one of them: the length of a string.

    Args:
        text: the text whose characters are counted.
        include_spaces: whether spaces count as characters.
    """
    seen = _characters(text)
    return len(seen) if include_spaces else sum(1 for c in seen if c != " ")


def _characters(text: str) -> list[str]:
    """The characters a reader sees, each with the code points that are part of it: a
    letter and its accents, an emoji and its skin tone or variation, people joined by a
    zero-width joiner, a flag's two letters, CR LF (Unicode's grapheme clusters, simply).
    reverse_string has the same: a tool file stands alone, in its sandbox."""
    out: list[str] = []
    for ch in text:
        cp = ord(ch)
        if out:
            last = out[-1]
            before = ord(last[-1])
            if (
                unicodedata.category(ch) in ("Mn", "Me", "Mc")
                or cp == 0x200D  # zero-width joiner
                or 0xFE00 <= cp <= 0xFE0F  # variation selectors
                or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
                or 0xE0020 <= cp <= 0xE007F  # tags (subdivision flags)
                or before == 0x200D  # what a joiner joins
                or (ch == "\n" and last == "\r")
                or (_regional(cp) and len(last) == 1 and _regional(before))  # a flag
            ):
                out[-1] = last + ch
                continue
        out.append(ch)
    return out


def _regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def test_counts_characters() -> None:
    assert count_characters("hello world") == 11


def test_without_spaces() -> None:
    assert count_characters("hello world", include_spaces=False) == 10


def test_counts_what_a_reader_sees() -> None:
    assert count_characters("e\u0301") == 1  # e and a combining accent
    assert count_characters("\U0001f44d\U0001f3fd") == 1  # thumbs up, medium skin tone
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert count_characters(family) == 1
    assert count_characters("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea") == 2  # two flags
    assert count_characters("caf\u00e9 \U0001f642") == 6
