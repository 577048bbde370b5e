"""Small text and number helpers: the demo's workspace (each function hides one bug)."""


def median(values):
    """The median of a non-empty list of numbers."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def word_count(text):
    """How many words ``text`` holds, whatever whitespace separates them."""
    return len(text.split(" "))


def title_case(text):
    """Upper-case the first letter of every word; keep the rest of each word as written."""
    return " ".join(word.capitalize() for word in text.split(" "))


def clamp(x, lo, hi):
    """``x`` limited to the range [lo, hi]."""
    return max(lo, x)


def is_palindrome(text):
    """True when ``text`` reads the same backwards, ignoring case, spaces and punctuation."""
    return text == text[::-1]
