from textstats import clamp, is_palindrome, median, title_case, word_count


def test_median_odd():
    assert median([3, 1, 2]) == 2


def test_median_even():
    assert median([1, 2, 3, 4]) == 2.5
    assert median([4, 1]) == 2.5


def test_word_count_spaces():
    assert word_count("one two three") == 3


def test_word_count_any_whitespace():
    assert word_count("  one   two\nthree\tfour ") == 4
    assert word_count("") == 0


def test_title_case_simple():
    assert title_case("hello world") == "Hello World"


def test_title_case_keeps_inner_capitals():
    assert title_case("my iPhone and NASA") == "My IPhone And NASA"


def test_clamp_inside_and_below():
    assert clamp(5, 0, 10) == 5
    assert clamp(-3, 0, 10) == 0


def test_clamp_above():
    assert clamp(42, 0, 10) == 10


def test_is_palindrome_plain():
    assert is_palindrome("level")


def test_is_palindrome_mixed():
    assert is_palindrome("A man, a plan, a canal: Panama")
    assert not is_palindrome("palindrome")
