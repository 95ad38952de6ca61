"""JSON round trip for the frozen dataclasses of the data model (stage results are stored as JSON)."""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")


def to_plain(obj: Any) -> Any:
    """Dataclasses → dicts, tuples → lists, frozensets → sorted lists; numpy scalars → Python numbers."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(x) for x in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(to_plain(x) for x in obj)
    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    return obj


def dumps(obj: Any) -> str:
    return json.dumps(to_plain(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def from_plain(cls: type[T] | Any, data: Any) -> T:
    """Rebuild ``cls`` (a dataclass or a typing form) from plain JSON data, checking shapes as it goes."""
    origin = get_origin(cls)
    if cls is Any:
        return data
    if origin in (Union, types.UnionType):
        args = get_args(cls)
        if data is None and type(None) in args:
            return None  # type: ignore[return-value]
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return from_plain(arg, data)
            except (TypeError, ValueError, KeyError) as exc:
                errors.append(str(exc))
        raise ValueError(f"{data!r} matches none of {cls}: {errors}")
    if origin is Literal:
        if data not in get_args(cls):
            raise ValueError(f"{data!r} is not one of {get_args(cls)}")
        return data
    if origin is tuple:
        args = get_args(cls)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(args[0], x) for x in data)  # type: ignore[return-value]
        if len(args) != len(data):
            raise ValueError(f"expected {len(args)} items, got {len(data)}")
        return tuple(from_plain(a, x) for a, x in zip(args, data))  # type: ignore[return-value]
    if origin in (frozenset, set):
        (arg,) = get_args(cls)
        return origin(from_plain(arg, x) for x in data)  # type: ignore[return-value]
    if origin is list:
        (arg,) = get_args(cls)
        return [from_plain(arg, x) for x in data]  # type: ignore[return-value]
    if origin is dict:
        kt, vt = get_args(cls)
        return {from_plain(kt, k): from_plain(vt, v) for k, v in data.items()}  # type: ignore[return-value]
    if dataclasses.is_dataclass(cls):
        if not isinstance(data, dict):
            raise TypeError(f"expected an object for {cls.__name__}, got {type(data).__name__}")
        kwargs = {}
        for name, hint in _field_hints(cls):
            if name in data:
                kwargs[name] = from_plain(hint, data[name])
        return cls(**kwargs)  # type: ignore[return-value]
    if cls is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise TypeError(f"expected a number, got {data!r}")
        return float(data)  # type: ignore[return-value]
    if cls in (int, str, bool):
        if not isinstance(data, cls) or (cls is int and isinstance(data, bool)):
            raise TypeError(f"expected {cls.__name__}, got {data!r}")
        return data
    if cls is type(None):
        if data is not None:
            raise TypeError(f"expected null, got {data!r}")
        return None  # type: ignore[return-value]
    if isinstance(cls, typing.TypeVar):
        return data
    raise TypeError(f"cannot rebuild {cls!r}")


@functools.lru_cache(maxsize=256)
def _field_hints(cls: type) -> tuple[tuple[str, Any], ...]:
    """(field name, its type) of a dataclass, resolved once per class: ``get_type_hints`` evaluates every annotation
    string each time, and a lesson's face tracks are tens of thousands of small dataclasses."""
    hints = get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))


def loads(cls: type[T], text: str) -> T:
    return from_plain(cls, json.loads(text))
