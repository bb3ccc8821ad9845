"""Small value classes without `dataclasses`, for modules on the CLI's start-up path.

`@dataclass` exec()s generated methods for every class (~0.4 ms each on 3.11) and its import pulls
in `inspect`; a plain pickle scan would spend more on that than on the scan. Subclasses annotate their
fields in the class body (usually with matching `__slots__`) and write an explicit `__init__` of
plain attribute stores; these bases add what the dataclass generated, generically:

- `IdentityRecord`: `__repr__` and `replace`, identity equality (like `eq=False`);
- `Record`: plus value `__eq__`/`__hash__` over the fields, same class required (like `frozen=True`;
  immutability is the `Final` annotations' job, checked by mypy);
- `MutableRecord`: value `__eq__`, unhashable (like a plain `@dataclass`).
"""

from __future__ import annotations

import reprlib
from typing import Any, ClassVar, Self


class IdentityRecord:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Fields are the class-level annotations in order, after the base's (as for a dataclass).
        own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 (importing inspect is the cost we avoid)
        cls._fields = (*cls._fields, *(name for name, kind in own.items() if "ClassVar" not in str(kind)))

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    @reprlib.recursive_repr()  # symbolic pickle values may form cycles
    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (`dataclasses.replace`); every field is an `__init__` param."""
        values = {name: getattr(self, name) for name in self._fields}
        values.update(changes)
        return type(self)(**values)


class Record(IdentityRecord):
    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())


class MutableRecord(Record):
    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]
