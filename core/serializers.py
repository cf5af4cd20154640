"""Input serializers that take a JSON body exactly as the OpenAPI schema describes it.

DRF is lenient where the schema is not: an unknown field is dropped silently, a number is
turned into a string (``{"description": 0}``), ``false`` into 0.0 (``"energy": false``) and
``"0.5"`` into 0.5. ``StrictSerializerMixin`` refuses all of that with 400 naming the field,
and ``core.schema`` says so in the schema (``additionalProperties: false`` on its request
bodies; docs/api.md, "Errors").
"""

from typing import Any

from django.http import QueryDict
from rest_framework import serializers

NUMBER_FIELDS = (serializers.IntegerField, serializers.FloatField, serializers.DecimalField)
STRING_FIELDS = (
    serializers.CharField,
    serializers.UUIDField,
    serializers.DateTimeField,
    serializers.DateField,
    serializers.ChoiceField,
)


def json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` is not of the JSON type ``field`` documents, or None if it is."""
    if value is None:
        return None  # the field's own allow_null decides
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be a boolean."
    if isinstance(field, NUMBER_FIELDS):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "Must be a number."
    if isinstance(field, serializers.ChoiceField) and any(
        not isinstance(choice, str) for choice in field.choices
    ):
        return None  # non-string choices: the choice check decides
    if isinstance(field, (*STRING_FIELDS, serializers.PrimaryKeyRelatedField)):
        return None if isinstance(value, str) else "Must be a string."
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return None  # the field says "Expected a list"
        for item in value:
            error = json_type_error(field.child, item)
            if error is not None:
                return f"Each item: {error[0].lower()}{error[1:]}"
    return None


class StrictSerializerMixin:
    """Unknown and read-only fields are an error, not silently dropped; in a JSON body every
    field must have the JSON type it documents (a form body is all strings: left to the
    fields)."""

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if isinstance(data, dict):
            fields = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {
                name: ["Unknown field."] if name not in fields else ["Read-only field."]
                for name in sorted(data)
                if name not in fields or fields[name].read_only
            }
            if not isinstance(data, QueryDict):
                for name, value in data.items():
                    field = fields.get(name)
                    if name in errors:
                        continue
                    error = json_type_error(field, value)
                    if error is not None:
                        errors[name] = [error]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter whose empty value (``?depth=``) is refused as not an
    integer, not taken as absent (DRF's default for form and query input): the schema says
    the parameter is an integer when given."""

    def get_value(self, dictionary: Any) -> Any:
        if dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)
