"""Consent policies: which faces and regions a rendition hides, and how.

A policy is a TOML file (``consent_policies/*.toml``, documented in ``consent_policies/README.md``) loaded into a
frozen ``ConsentPolicy``.  Loading is strict: an unknown key, a wrong type, a value out of range or a zone outside
the frame raises ``PolicyError`` naming the key -- a policy we do not fully understand is never applied.  No
policy means the strictest default, ``blur-all-pupils``.

Rules (also in the README):
- every detected face is hidden except the tracks a reviewer marked visible (the teacher, consented pupils);
  nothing is un-hidden by a guess;
- ``zones`` (normalised ``[x, y, w, h]``) are hidden in every frame, face or not;
- ``teacher_zones`` only carve areas out of ``zones`` (e.g. the board), and only once a reviewer has marked at
  least one visible track; they never un-hide a detected face of an unmarked track;
- ``hide_faces = false`` (all pupils consented) requires a non-empty ``consent_record`` naming the record.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

POLICY_DIR = Path(__file__).resolve().parents[2] / "consent_policies"
DEFAULT_POLICY = "blur-all-pupils"
MAX_POLICY_BYTES = 64 * 1024  # a policy is a few lines; anything bigger is refused before it is parsed

Zone = tuple[float, float, float, float]  # x, y, w, h as shares of the frame width / height (0..1)
Method = Literal["mosaic", "fill"]


class PolicyError(ValueError):
    """A consent policy that cannot be applied as written."""


@dataclass(frozen=True)
class ConsentPolicy:
    name: str
    version: int
    description: str = ""
    method: Method = "mosaic"
    mosaic_block_px: int = 16  # at least; blocks grow to 1/8 of a large face (see redact.py)
    box_scale: float = 1.4  # hidden box = detected box x 1.4 around its centre (plus extra for hair)
    hold_s: float = 1.0  # a face stays hidden this long after it was last seen (3x when it vanished abruptly)
    detect_every: int = 5  # detection runs on every 5th frame; boxes are held in between
    threshold: float = 0.05  # CenterFace score; low on purpose (see eval/eval_faces.py)
    upscale_small: bool = False  # an extra 2x upscaled detection pass for small faces (back-of-room cameras)
    hide_faces: bool = True  # false only for "all consented" (then consent_record is required)
    zones: tuple[Zone, ...] = ()
    teacher_zones: tuple[Zone, ...] = ()
    consent_record: str = ""

    def __post_init__(self) -> None:
        _validate(self)

    def zones_px(self, width: int, height: int) -> tuple[tuple[int, int, int, int], ...]:
        return tuple(zone_to_px(z, width, height) for z in self.zones)

    def teacher_zones_px(self, width: int, height: int) -> tuple[tuple[int, int, int, int], ...]:
        return tuple(zone_to_px(z, width, height) for z in self.teacher_zones)

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def zone_to_px(zone: Zone, width: int, height: int) -> tuple[int, int, int, int]:
    """A normalised zone as a pixel rectangle ``(x1, y1, x2, y2)``, rounded outwards (hiding more, never less)."""
    import math

    x, y, w, h = zone
    return (
        max(0, math.floor(x * width)),
        max(0, math.floor(y * height)),
        min(width, math.ceil((x + w) * width)),
        min(height, math.ceil((y + h) * height)),
    )


_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "version": int,
    "description": str,
    "method": str,
    "mosaic_block_px": int,
    "box_scale": (int, float),
    "hold_s": (int, float),
    "detect_every": int,
    "threshold": (int, float),
    "upscale_small": bool,
    "hide_faces": bool,
    "zones": list,
    "teacher_zones": list,
    "consent_record": str,
}
KEYS = tuple(f.name for f in fields(ConsentPolicy))


def _validate(p: ConsentPolicy) -> None:
    def bad(key: str, why: str) -> PolicyError:
        return PolicyError(f"policy {p.name!r}: {key} {why}")

    if not p.name.strip():
        raise PolicyError("policy: name must not be empty")
    if p.version < 1:
        raise bad("version", f"must be an integer >= 1, got {p.version!r}")
    if p.method not in ("mosaic", "fill"):
        raise bad("method", f'must be "mosaic" or "fill", got {p.method!r}')
    if not 8 <= p.mosaic_block_px <= 256:
        raise bad("mosaic_block_px", f"must be 8..256 px (coarse enough to be irreversible), got {p.mosaic_block_px!r}")
    if not 1.0 <= p.box_scale <= 3.0:
        raise bad("box_scale", f"must be 1.0..3.0 (never smaller than the detected face), got {p.box_scale!r}")
    if not 0.2 <= p.hold_s <= 10.0:
        raise bad("hold_s", f"must be 0.2..10 s, got {p.hold_s!r}")
    if not 1 <= p.detect_every <= 10:
        raise bad("detect_every", f"must be 1..10 frames, got {p.detect_every!r}")
    if not 0.01 <= p.threshold <= 0.5:
        raise bad("threshold", f"must be 0.01..0.5 (a low threshold hides more), got {p.threshold!r}")
    for key, zones in (("zones", p.zones), ("teacher_zones", p.teacher_zones)):
        for i, z in enumerate(zones):
            _check_zone(p.name, f"{key}[{i}]", z)
    if not p.hide_faces and not p.consent_record.strip():
        raise bad(
            "consent_record",
            "is required when hide_faces = false: name the record that shows every pupil filmed consented",
        )


def _check_zone(policy: str, key: str, z) -> None:
    if not (isinstance(z, tuple) and len(z) == 4 and all(isinstance(v, float) for v in z)):
        raise PolicyError(f"policy {policy!r}: {key} must be [x, y, w, h] (four numbers), got {z!r}")
    x, y, w, h = z
    if w <= 0 or h <= 0:
        raise PolicyError(f"policy {policy!r}: {key} needs a positive width and height, got {list(z)!r}")
    if x < 0 or y < 0 or x + w > 1.0 + 1e-9 or y + h > 1.0 + 1e-9:
        raise PolicyError(f"policy {policy!r}: {key} must lie inside the frame (0..1), got {list(z)!r}")


def policy_from_dict(raw: dict, *, source: str = "policy") -> ConsentPolicy:
    """Build a policy from parsed TOML, refusing unknown keys and wrong types with a message naming the key."""
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise PolicyError(f"{source}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(KEYS)})")
    for key in ("name", "version"):
        if key not in raw:
            raise PolicyError(f"{source}: missing required key {key}")
    values = {}
    for key, value in raw.items():
        want = _TYPES[key]
        # bool is an int in Python: refuse true/false where a number is meant, and numbers where a bool is meant
        if isinstance(value, bool) and want is not bool:
            raise PolicyError(f"{source}: {key} must be {_type_name(want)}, got {value!r}")
        if not isinstance(value, want):
            raise PolicyError(f"{source}: {key} must be {_type_name(want)}, got {type(value).__name__} {value!r}")
        if key in ("zones", "teacher_zones"):
            value = tuple(_zone(source, f"{key}[{i}]", z) for i, z in enumerate(value))
        elif want == (int, float):
            value = float(value)
        values[key] = value
    return ConsentPolicy(**values)


def _zone(source: str, key: str, z) -> Zone:
    if not isinstance(z, list) or len(z) != 4:
        raise PolicyError(f"{source}: {key} must be [x, y, w, h] (four numbers in 0..1), got {z!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in z):
        raise PolicyError(f"{source}: {key} must hold four numbers, got {z!r}")
    return tuple(float(v) for v in z)  # type: ignore[return-value]


def _type_name(t) -> str:
    if t == (int, float):
        return "a number"
    return {str: "a string", int: "an integer", bool: "true or false", list: "a list"}[t]


def policy_to_dict(p: ConsentPolicy) -> dict:
    """The policy as plain data (what :func:`policy_from_dict` reads back): kept with a lesson, so a lesson rendered
    with a policy file given by path, or with a consent record, renders the same way again."""
    raw = {f.name: getattr(p, f.name) for f in fields(ConsentPolicy)}
    raw["zones"] = [list(z) for z in p.zones]
    raw["teacher_zones"] = [list(z) for z in p.teacher_zones]
    return raw


def usable_as_is(name_or_path: str | Path) -> bool:
    """Whether a policy loads as it stands (a policy hiding no face without a consent record does not)."""
    try:
        load_policy(name_or_path)
    except PolicyError:
        return False
    return True


def needs_consent_record(name_or_path: str | Path) -> bool:
    """Whether a policy is refused only for want of a consent record (``all-consented`` as shipped)."""
    if usable_as_is(name_or_path):
        return False
    try:
        return not load_policy(name_or_path, consent_record="(checking)").hide_faces
    except PolicyError:
        return False


def policy_names() -> tuple[str, ...]:
    """The policies in consent_policies/ (file stems): the shipped ones and any an admin installed there."""
    return tuple(sorted(p.stem for p in POLICY_DIR.glob("*.toml") if _is_name(p.stem)))


def _is_name(text: str) -> bool:
    return 0 < len(text) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in text)


def load_named_policy(name: str | None, *, consent_record: str | None = None) -> ConsentPolicy:
    """A policy by NAME only (what the web pages and the upload route accept): one of :func:`policy_names`.  File
    paths stay a command-line feature; the error never says whether some other file exists."""
    if name is None or (isinstance(name, str) and not name.strip()):
        name = DEFAULT_POLICY
    if not isinstance(name, str) or name not in policy_names():
        shown = f" {name!r}" if isinstance(name, str) and _is_name(name) else ""  # a path is never echoed
        raise PolicyError(f"no consent policy named{shown} (known: {', '.join(policy_names())})")
    return load_policy(name, consent_record=consent_record)


def _read_capped(path: Path) -> str:
    """The policy file's text, read with a size cap (never a device, never more than MAX_POLICY_BYTES)."""
    if not path.is_file():
        raise PolicyError(f"consent policy {path} is not a regular file")
    with open(path, "rb") as fh:
        data = fh.read(MAX_POLICY_BYTES + 1)
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(f"consent policy {path} is larger than {MAX_POLICY_BYTES // 1024} KiB")
    return data.decode("utf-8")


def load_policy(name_or_path: str | Path | None = None, *, consent_record: str | None = None) -> ConsentPolicy:
    """A shipped policy by name, or a TOML file by path; None -> the strictest default (blur-all-pupils).

    ``consent_record`` (e.g. from the CLI) fills in the record a policy with ``hide_faces = false`` requires; the
    shipped ``all-consented`` names none, so it is refused until a record is given.
    """
    if name_or_path is None or (isinstance(name_or_path, str) and not name_or_path.strip()):
        name_or_path = DEFAULT_POLICY
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = POLICY_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            raise PolicyError(f"no consent policy named {name_or_path!r} (known: {', '.join(policy_names())})")
    try:
        raw = tomllib.loads(_read_capped(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read consent policy {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"consent policy {path} is not valid TOML: {exc}") from exc
    if consent_record is not None:
        raw["consent_record"] = consent_record
    return policy_from_dict(raw, source=f"consent policy {path.name}")


__all__ = [
    "ConsentPolicy",
    "DEFAULT_POLICY",
    "KEYS",
    "POLICY_DIR",
    "PolicyError",
    "Zone",
    "load_named_policy",
    "load_policy",
    "policy_from_dict",
    "policy_names",
    "policy_to_dict",
    "needs_consent_record",
    "usable_as_is",
    "zone_to_px",
]
