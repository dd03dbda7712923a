"""``<json key>__has_choice=<value>``: the JSON array stored under a key holds ``value``.

Multi-choice custom fields keep their values as a JSON array of strings (``{"regions": ["east", "north"]}``).
Django's ``contains`` lookup on JSON is not available on SQLite, so this lookup is written once per engine:
``@>`` on PostgreSQL (served by a GIN index if one is added), ``json_each`` on SQLite. A value stored as a
plain string (a single-choice field changed to multi-choice later) matches too.
"""

import json

from django.db.models import Lookup
from django.db.models.fields.json import KeyTransform


class HasChoice(Lookup):
    lookup_name = "has_choice"
    prepare_rhs = False

    def _value(self) -> str:
        return str(self.rhs)

    def as_sql(self, compiler, connection):  # PostgreSQL (jsonb)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        sql = f"({lhs} @> %s::jsonb OR {lhs} = %s::jsonb)"
        return sql, (*lhs_params, json.dumps([self._value()]), *lhs_params, json.dumps(self._value()))

    def as_sqlite(self, compiler, connection):
        # json_each over a path yields the array's elements, or the one value when it is a plain string.
        lhs, lhs_params, key_transforms = self.lhs.preprocess_lhs(compiler, connection)
        path = self.lhs._get_json_path(connection, key_transforms)
        # lhs is the compiler's column expression; the path and the value are parameters.
        sql = f"EXISTS (SELECT 1 FROM json_each({lhs}, %s) AS choice WHERE choice.value = %s)"  # noqa: S608
        return sql, (*lhs_params, path, self._value())


def register() -> None:
    KeyTransform.register_lookup(HasChoice)
