"""The full-text query behind the tickets list's `search` filter on PostgreSQL, type-ahead included.

What a person types is read as web-search syntax (words, "a phrase", -not, or), except that the last
word, the one still being typed, also matches as a prefix: `cras` finds "crash" and "crashes". User
text never reaches PostgreSQL's raw tsquery syntax unquoted, so `& | ! ( ) : * ' \\` in it are plain
characters, never operators nor a syntax error.
"""

import re
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchQueryCombinable
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

from tickets.selectors import TICKET_KEY

# Ticket.search_vector's configuration (tickets/migrations/0002_search_and_label_indexes.py).
CONFIG = "english"
# The last word: a run without spaces at the end that does not start a negation or take part in a phrase.
_LAST_WORD = re.compile(r'(?:^|\s)([^\s"-][^\s"]*)$')


def ticket_search_query(words: str) -> SearchQueryCombinable:
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
    group: SearchQueryCombinable = _prefix_query(word)
    if start < len(head):
        group = _websearch(head[start:-1]) | group
    return _websearch(head[:start]) & group if start else group


def _websearch(tokens: list[str]) -> SearchQuery:
    return SearchQuery(" ".join(tokens), search_type="websearch", config=CONFIG)


def _prefix_query(word: str) -> "PrefixQuery":
    """`word:*` as a quoted tsquery literal: inside quotes only `'` and `\\` are special, so both are escaped."""
    return PrefixQuery("'" + word.replace("\\", "\\\\").replace("'", "''") + "':*")


class PrefixQuery(SearchQuery):
    """A prefix literal, stemmed (english: `crashes` still finds "crash"), or as typed (simple) when the
    stemmer leaves nothing of it: a stop word on its way to a longer word (`the`, for "theme").

    One tsquery chosen by CASE, which PostgreSQL folds to a constant when it plans, rather than an OR of
    both: `'export':* | 'export':*` made the GIN index do the work twice and the planner AND in another
    index, and W2's query took about three times as long on 100 000 tickets. A SearchQuery, so that the
    `search_vector=` lookup takes it as a query (anything else it wraps in plainto_tsquery).
    """

    def __init__(self, literal: str) -> None:
        super().__init__(literal, search_type="raw")

    # django-stubs type SearchQuery.as_sql as Func's: other parameters, and params as a tuple where
    # Django's combined expressions add lists.
    def as_sql(  # type: ignore[override]
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
    ) -> tuple[str, list[Any]]:
        (literal,) = self.get_source_expressions()
        literal_sql, params = compiler.compile(literal)
        stemmed = f"to_tsquery('{CONFIG}'::regconfig, {literal_sql})"
        as_typed = f"to_tsquery('simple'::regconfig, {literal_sql})"
        return f"CASE WHEN numnode({stemmed}) > 0 THEN {stemmed} ELSE {as_typed} END", [*params, *params, *params]
