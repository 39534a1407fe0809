"""The full-text query behind the tickets list's `search` filter on PostgreSQL, type-ahead included.

What a person types is read as web-search syntax (words, "a phrase", -not, or), except that the last
word, the one still being typed, also matches as a prefix: `cras` finds "crash" and "crashes". User
text never reaches PostgreSQL's raw tsquery syntax unquoted, so `& | ! ( ) : * ' \\` in it are plain
characters, never operators nor a syntax error.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchQueryCombinable

from tickets.selectors import TICKET_KEY

# Ticket.search_vector's configuration (tickets/migrations/0002_search_and_label_indexes.py).
CONFIG = "english"
# The last word: a run without spaces at the end that does not start a negation or take part in a phrase.
_LAST_WORD = re.compile(r'(?:^|\s)([^\s"-][^\s"]*)$')


def ticket_search_query(words: str) -> SearchQuery | SearchQueryCombinable:
    """`words` (stripped, not empty) as a tsquery that `Ticket.search_vector`'s GIN index serves."""
    last = _LAST_WORD.search(words)
    # A key is meant as typed (OPS-1 is not OPS-10..OPS-19); so is a query ending in a phrase, a negation
    # or an open quote.
    if last is None or words.count('"') % 2 or TICKET_KEY.match(words):
        return SearchQuery(words, search_type="websearch", config=CONFIG)
    head = words[: last.start(1)].split()
    word = last.group(1)
    if head and word.lower() == "or":  # "crash or" is an OR about to get its right-hand side
        return _websearch(head)
    # Web search binds `or` tighter than the implicit AND: "a b or c" is a & (b | c). So the prefix joins
    # the `x or y or` chain just before it, if any, and that group is ANDed with the words before.
    start = len(head)
    while start >= 2 and head[start - 1].lower() == "or" and head[start - 2].lower() != "or":
        if '"' in head[start - 2]:  # a phrase inside the chain: not worth reading it ourselves
            return SearchQuery(words, search_type="websearch", config=CONFIG)
        start -= 2
    group = _prefix_query(word)
    if start < len(head):
        group = _websearch(head[start:-1]) | group
    return _websearch(head[:start]) & group if start else group


def _websearch(tokens: list[str]) -> SearchQuery:
    return SearchQuery(" ".join(tokens), search_type="websearch", config=CONFIG)


def _prefix_query(word: str) -> SearchQueryCombinable:
    """`word:*` as a quoted tsquery literal: inside quotes only `'` and `\\` are special, so both are escaped.

    Stemmed (english) so that `crashes` still finds "crash"; and unstemmed (simple) so that a prefix which
    is a stop word as typed (`the` on its way to "theme") or which the stemmer would cut still matches.
    """
    literal = "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"
    return SearchQuery(literal, search_type="raw", config=CONFIG) | SearchQuery(
        literal, search_type="raw", config="simple"
    )
