"""Arithmetic expressions, read by a small parser (never eval)."""

import math
import re

_FRACTION = r"(\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?)"
_WORDS = [
    # an exponent said in words that is a fraction is the whole fraction: "64 to the 1/3"
    (
        r"\b(?:to\s+the(?:\s+power\s+of)?|raised\s+to(?:\s+the\s+power\s+of)?)\s+" + _FRACTION,
        r"^(\1)",
    ),
    (r"\bto\s+the\s+power\s+of\b", "^"),
    (r"\bto\s+the\s+(\d+(?:\.\d+)?)(?:st|nd|rd|th)?(?:\s+power)?\b", r"^\1"),
    (r"\braised\s+to(?:\s+the\s+power\s+of)?\b", "^"),
    (r"\bsquare\s+root\s+of\b", " sqrt "),
    (r"\bcube\s+root\s+of\b", " cbrt "),
    (r"\b(?:percent|per\s+cent)\s+of\b", "% of "),
    (r"%\s*of\b", "% of "),
    (r"(\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?)\s+of\b", r"(\1) of "),
    (r"(\d+(?:\.\d+)?)\s*(?:%|percent)\s+off\s+(?:of\s+)?(\d+(?:\.\d+)?)", r"\2-\1%*\2"),
    (r"\bremainder\s+of\s+(\d+(?:\.\d+)?)\s+(?:divided\s+by|/)\s+(\d+(?:\.\d+)?)", r"\1 mod \2"),
    (r"\bincrease\s+(\d+(?:\.\d+)?)\s+by\s+(\d+(?:\.\d+)?)\s*(?:%|percent)", r"\1+\2%*\1"),
    (
        r"\b(?:decrease|reduce)\s+(\d+(?:\.\d+)?)\s+by\s+(\d+(?:\.\d+)?)\s*(?:%|percent)",
        r"\1-\2%*\1",
    ),
    (r"(\d+(?:\.\d+)?)\s*(?:%|percent)\s+more\s+than\s+(\d+(?:\.\d+)?)", r"\2+\1%*\2"),
    (r"(\d+(?:\.\d+)?)\s*(?:%|percent)\s+less\s+than\s+(\d+(?:\.\d+)?)", r"\2-\1%*\2"),
    (r"(\d+(?:\.\d+)?)\s+more\s+than\s+(\d+(?:\.\d+)?)", r"\2+\1"),
    (r"(\d+(?:\.\d+)?)\s+less\s+than\s+(\d+(?:\.\d+)?)", r"\2-\1"),
    (r"\bpercent\b", "%"),
    (r"\bmultiplied\s+by\b", "*"),
    (r"\bdivided\s+by\b", "/"),
    (r"\btimes\b", "*"),
    (r"\bover\b", "/"),
    (r"\bplus\b", "+"),
    (r"\bminus\b", "-"),
    (r"\bless\b", "-"),
    (r"\bmod(?:ulo)?\b", " mod "),
    (r"\bsquare\s+(\d+(?:\.\d+)?)", "\\1\u00b2"),
    (r"\bcube\s+(\d+(?:\.\d+)?)", "\\1\u00b3"),
    (r"\bsquared\b", "\u00b2"),
    (r"\bcubed\b", "\u00b3"),
    (r"\bthe\b", " "),
    (r"(?<=\d)\s*[x\u00d7]\s*(?=[\d(])", "*"),
    (r"÷", "/"),
    (r"\u2212", "-"),
    (r"\*\*", "^"),
]
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|(sqrt|cbrt|mod|of)|([-+*/^%()\u00b2\u00b3]))")
_POWERS = {"\u00b2": 2.0, "\u00b3": 3.0}  # squared, cubed: applied in the order written
_MAX_EXPONENT = 1000.0
_MAX_TOKENS = 500


def _tokens(expression: str) -> list[str]:
    text = expression.lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    for pattern, replacement in _WORDS:
        text = re.sub(pattern, replacement, text)
    tokens: list[str] = []
    at = 0
    text = text.strip().rstrip("=?").strip()
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None or m.end() == at:
            if text[at:].strip() == "":
                break
            raise ValueError(f"not an arithmetic expression: cannot read {text[at:].strip()!r}")
        tokens.append(next(g for g in m.groups() if g is not None))
        at = m.end()
    if not tokens:
        raise ValueError("the expression is empty")
    if len(tokens) > _MAX_TOKENS:
        raise ValueError(f"the expression is too long ({len(tokens)} parts)")
    return tokens


class _Parser:
    """expr := term (('+'|'-') term)*; term := unary (('*'|'/'|'mod') unary)*;
    unary := ('-'|'+') unary | share; share := power ('of' power)*;
    power := postfix ('^' unary)?; postfix := primary ('%'|'²'|'³')*;
    primary := number | '(' expr ')' | ('sqrt'|'cbrt') unary.

    "of" binds before times and divided by ("100 divided by 10% of 50" is 100 / 5), and
    "squared" and "cubed" apply in the order written ("2 cubed squared" is 8 squared)."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise ValueError("the expression ends too early")
        self.at += 1
        return token

    def parse(self) -> float:
        value = self.expr()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r} in the expression")
        return value

    def expr(self) -> float:
        value = self.term()
        while self.peek() in {"+", "-"}:
            op = self.take()
            if self._bare_percent():
                # "100 minus 35%" is 65, as a person (and a calculator) means it: a bare
                # percentage added or taken away is a share of the amount before it
                right = value * float(self.take()) / 100
                self.take()
            else:
                right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def _bare_percent(self) -> bool:
        """Whether a number with '%' comes next, and nothing binds to it but '+', '-' or ')'."""
        ahead = self.tokens[self.at : self.at + 3]
        return (
            len(ahead) >= 2
            and (ahead[0][0].isdigit() or ahead[0][0] == ".")
            and ahead[1] == "%"
            and (len(ahead) == 2 or ahead[2] in {"+", "-", ")"})
        )

    def term(self) -> float:
        value = self.unary()
        while self.peek() in {"*", "/", "mod"}:
            op = self.take()
            right = self.unary()
            if op == "*":
                value *= right
            elif right == 0:
                raise ValueError("division by zero")
            elif op == "/":
                value /= right
            else:
                value = math.fmod(value, right)
        return value

    def unary(self) -> float:
        if self.peek() in {"-", "+"}:
            sign = -1.0 if self.take() == "-" else 1.0
            return sign * self.unary()
        return self.share()

    def share(self) -> float:
        value = self.power()
        # only a percentage's or a fraction's "of" ("20% of 50", "(1/3) of 90"): "5 of 10"
        # is no arithmetic
        while self.peek() == "of" and self.tokens[self.at - 1] in {"%", ")"}:
            self.take()
            value *= self.power()
        return value

    def power(self) -> float:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exponent = self.unary()
            if abs(exponent) > _MAX_EXPONENT:
                raise ValueError(f"the exponent {exponent:g} is too large")
            try:
                result = math.pow(base, exponent)
            except (OverflowError, ValueError) as exc:
                raise ValueError(f"{base:g} to the power of {exponent:g} has no value") from exc
            return result
        return base

    def postfix(self) -> float:
        value = self.primary()
        while self.peek() in {"%", *_POWERS}:
            token = self.take()
            value = value / 100 if token == "%" else math.pow(value, _POWERS[token])
        return value

    def primary(self) -> float:
        token = self.take()
        if token == "(":
            value = self.expr()
            if self.take() != ")":
                raise ValueError("a bracket is not closed")
            return value
        if token in {"sqrt", "cbrt"}:
            operand = self.unary()
            if token == "sqrt":
                if operand < 0:
                    raise ValueError("no real square root of a negative number")
                return math.sqrt(operand)
            return math.copysign(abs(operand) ** (1 / 3), operand)
        try:
            return float(token)
        except ValueError:
            raise ValueError(f"expected a number, found {token!r}") from None


def evaluate_expression(expression: str) -> float:
    """Evaluate an arithmetic expression: numbers with plus, minus, times, divided by (over),
    powers (squared, cubed, to the power of), percent of, a percentage off, more or less
    (increase or decrease a number by a percentage), square roots, modulo (mod, the
    remainder) and brackets.

    Args:
        expression: the arithmetic to work out, e.g. (5 + 3) / 2 or 20% of 50 plus 10.
    """
    value = _Parser(_tokens(expression)).parse()
    if math.isinf(value) or math.isnan(value):
        raise ValueError("the result is too large")
    # 15 significant digits: a float's last bits are noise; decimal places would turn a
    # small result into 0 (2 * 10^-12) and lose digits a next step reads
    return float(f"{value:.15g}")


def test_symbols_and_precedence() -> None:
    assert evaluate_expression("2+2") == 4
    assert evaluate_expression("3 * 4") == 12
    assert evaluate_expression("(5 + 3) / 2") == 4
    assert evaluate_expression("2 + 3 * 4") == 14
    assert evaluate_expression("2^10") == 1024
    assert evaluate_expression("-3 + 5") == 2
    assert evaluate_expression("1,000 / 8") == 125


def test_words() -> None:
    assert evaluate_expression("20% of 50 plus 10") == 20
    assert evaluate_expression("7 times 6 minus 2") == 40
    assert evaluate_expression("12 over 4") == 3
    assert evaluate_expression("square root of 16 plus 1") == 5
    assert evaluate_expression("3 squared") == 9
    assert evaluate_expression("square 12") == 144
    assert evaluate_expression("2 to the power of 3") == 8
    assert evaluate_expression("2 to the 10th power") == 1024
    assert evaluate_expression("3 to the 4th") == 81


def test_the_remainder_of_a_division() -> None:
    assert evaluate_expression("the remainder of 17 divided by 5") == 2


def test_a_number_increased_or_decreased_by_a_percentage() -> None:
    assert evaluate_expression("increase 200 by 15%") == 230
    assert evaluate_expression("decrease 80 by 25 percent") == 60
    assert evaluate_expression("25% more than 80") == 100
    assert evaluate_expression("25% less than 80") == 60
    assert evaluate_expression("5 more than 3") == 8
    assert evaluate_expression("5 less than 20") == 15


def test_a_percentage_off_an_amount() -> None:
    assert evaluate_expression("30 percent off 90") == 63
    assert evaluate_expression("15% off 80") == 68


def test_a_fraction_of_an_amount() -> None:
    assert evaluate_expression("1/3 of 90") == 30
    assert evaluate_expression("2/5 of 10") == 4


def test_of_binds_before_a_division() -> None:
    assert evaluate_expression("100 divided by 10 percent of 50") == 20
    assert evaluate_expression("90 / 1/3 of 90") == 3
    assert evaluate_expression("10 times 20% of 50") == 100


def test_powers_in_words_apply_in_the_order_written() -> None:
    assert evaluate_expression("2 cubed squared") == 64
    assert evaluate_expression("3 squared squared") == 81
    assert evaluate_expression("7 plus 3 squared") == 16
    assert evaluate_expression("50% of 10 squared") == 50


def test_a_percentage_added_or_taken_away_is_a_share_of_the_amount() -> None:
    assert evaluate_expression("100 minus 35 percent") == 65
    assert evaluate_expression("80 + 10%") == 88
    assert evaluate_expression("(200 - 50%) * 2") == 200
    assert evaluate_expression("50 - 10% * 2") == 49.8
    assert evaluate_expression("10% of 50 + 5") == 10


def test_an_exponent_in_words_that_is_a_fraction() -> None:
    assert evaluate_expression("64 to the 1/3") == 4
    assert evaluate_expression("8 raised to the power of 1/3") == 2


def test_refuses_what_is_not_arithmetic() -> None:
    for bad in ["__import__('os')", "2 +", "(1 + 2", "1 / 0", "2 ^ 5000", "hello", "5 of 10"]:
        try:
            evaluate_expression(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} must be refused")
