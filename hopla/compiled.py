"""Statements whose shape never changes, compiled by the ORM once per process instead of every request.

Building and compiling a queryset costs a few tenths of a millisecond of Python, which on the ticket
list was as much as running the statement (BENCHMARKS.md, "The list's Python CPU"). A `CompiledQuery`
builds its queryset once for a sentinel value (a random UUID no row has), keeps the SQL and its
parameters, and per call swaps the sentinel for the real value: the database sees exactly the SQL the
ORM would have sent.
"""

import uuid
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.sql.query import Query


class CompiledQuery:
    """The SQL of `build(value)`'s query, compiled once per database alias, for any `value`.

    `build` must give the same SQL for every value, with `value` used only as a parameter.
    """

    def __init__(self, build: Callable[[uuid.UUID], QuerySet[Any] | Query]) -> None:
        self._build = build
        self._sentinel = uuid.uuid4()
        # alias -> (sql, params with None where the value goes, positions of the value)
        self._compiled: dict[str, tuple[str, tuple[Any, ...], tuple[int, ...]]] = {}

    def _query(self, value: uuid.UUID) -> Query:
        built = self._build(value)
        return built.query if isinstance(built, QuerySet) else built

    def sql(self, value: uuid.UUID, using: str = "default") -> tuple[str, list[Any]]:
        compiled = self._compiled.get(using)
        if compiled is None:
            sql, params = self._query(self._sentinel).get_compiler(using=using).as_sql()
            positions = tuple(index for index, param in enumerate(params) if param == self._sentinel)
            # The value must reach the SQL only as a parameter; a query that inlines it cannot be reused.
            if not positions or self._sentinel.hex in sql or str(self._sentinel) in sql:
                raise ValueError("The compiled query does not take its value as a parameter.")
            compiled = (sql, tuple(params), positions)
            self._compiled[using] = compiled
        sql, template, positions = compiled
        params = list(template)
        for index in positions:
            params[index] = value
        return sql, params

    def fetchone(self, value: uuid.UUID, using: str = "default") -> tuple[Any, ...] | None:
        sql, params = self.sql(value, using)
        with connections[using].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()


class CompiledModelGet(CompiledQuery):
    """`Model.objects.get(pk=value)`, compiled once: the instance, or None when no row has that pk.

    The instance is built from every concrete field with `Model.from_db`, as the ORM builds it. Only for
    models none of whose fields convert database values (checked on first use): those need the ORM.
    """

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self._field_names = [field.attname for field in model._meta.concrete_fields]
        self._converts: dict[str, bool] = {}
        super().__init__(lambda value: model._default_manager.filter(pk=value).order_by())

    def get(self, value: uuid.UUID, using: str = "default") -> Model | None:
        converts = self._converts.get(using)
        if converts is None:
            compiler = self._query(self._sentinel).get_compiler(using=using)
            compiler.setup_query()
            converts = bool(compiler.get_converters([column for column, _, _ in compiler.select]))
            self._converts[using] = converts
        if converts:
            return self.model._default_manager.db_manager(using).filter(pk=value).first()
        row = self.fetchone(value, using)
        return None if row is None else self.model.from_db(using, self._field_names, row)
