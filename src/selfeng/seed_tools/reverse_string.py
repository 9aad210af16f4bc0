"""Reversal."""

import unicodedata


def reverse_string(text: str) -> str:
    """Reverse a string or text: its characters in reverse order, backwards ("hello" to
    "olleh").

    Args:
        text: the text to reverse.
    """
    return "".join(reversed(_characters(text)))


def _characters(text: str) -> list[str]:
    """The characters a reader sees, each with the code points that are part of it: a
    letter and its accents, an emoji and its skin tone or variation, people joined by a
    zero-width joiner, a flag's two letters, CR LF (Unicode's grapheme clusters, simply).
    count_characters has the same: a tool file stands alone, in its sandbox."""
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


def test_reverses() -> None:
    assert reverse_string("hello") == "olleh"


def test_empty_and_unicode() -> None:
    assert reverse_string("") == ""
    assert reverse_string("añb") == "bña"


def test_keeps_each_character_whole() -> None:
    assert reverse_string("ae\u0301") == "e\u0301a"  # the accent stays on its e
    assert reverse_string("a\U0001f44d\U0001f3fd") == "\U0001f44d\U0001f3fda"
    assert reverse_string("\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea") == (
        "\U0001f1e9\U0001f1ea\U0001f1eb\U0001f1f7"
    )
