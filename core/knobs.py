"""Typed knobs: one definition of a setting's type, default, allowed values, label and help, and
:class:`KnobSet`, the mixin that turns a frozen dataclass of knobs into a validated object that
round-trips through a URL, command-line flags and JSON.

The :class:`~core.scenario.Scenario` is a KnobSet, and so is each page's settings (what the page's
form holds: methods, seeds, steps, ...), so the same code validates, parses and serialises both.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from core.errors import InputError

FLOAT_DECIMALS = 6
LIST_SEPARATOR = ","


@dataclass(frozen=True)
class Knob:
    """One setting: its type, default, allowed values and how to show it.

    Parameters
    ----------
    name : str
        The key, as used in URLs, on the command line (``--name-with-dashes`` for page settings) and in JSON.
    kind : type
        ``int``, ``float`` or ``str``: of the value, or of each element when ``many``.
    default : int, float, str or tuple
        The value when the key is absent; shift knobs default to their neutral value.
    low, high : float, optional
        Inclusive range of a numeric knob.
    choices : tuple of str, optional
        Allowed values of a ``str`` knob.
    step : float, optional
        Slider step (and display precision).
    label, help, group : str
        Widget label, one-line explanation and section (the Scenario's sidebar groups).
    applies_to : str
        ``"all"`` datasets, ``"points"`` (the 2-D ones only) or ``"images"`` (digits only); a knob
        that does not apply must keep its default.
    many : bool
        The value is a tuple of elements (``mmd,dann`` in a URL); ``str`` elements keep the order of
        ``choices``, numbers are sorted, repeats dropped.
    min_count : int
        With ``many``: the fewest elements allowed.
    options : tuple of numbers, optional
        A numeric knob's suggested values, which its widget offers (a select slider or a multiselect)
        besides the current value; any value in range is allowed.
    display : callable, optional
        Text shown for a value in a widget (a method's label for its name).
    """

    name: str
    kind: type
    default: Any
    label: str
    help: str
    group: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    step: float | None = None
    applies_to: str = "all"
    many: bool = False
    min_count: int = 1
    options: tuple[float, ...] = ()
    display: Callable[[Any], str] | None = None

    def applies(self, dataset: str) -> bool:
        """Whether this knob means something for ``dataset``."""
        from core.scenario import IMAGE_DATASETS

        if self.applies_to == "all":
            return True
        return (dataset in IMAGE_DATASETS) == (self.applies_to == "images")

    @property
    def decimals(self) -> int:
        """Number of decimals that values of this knob keep (from its step)."""
        if self.kind is not float or self.step is None:
            return 0
        text = f"{self.step:.10f}".rstrip("0")
        return max(0, len(text.split(".")[1])) if "." in text else 0

    def allowed(self) -> str:
        """Human description of the allowed values, for error messages."""
        if self.kind is str:
            one = "one of " + ", ".join(self.choices)
        else:
            what = "an integer" if self.kind is int else "a number"
            one = f"{what} in [{format_number(self.low)}, {format_number(self.high)}]"
        if not self.many:
            return one
        least = f"at least {self.min_count} " if self.min_count else ""
        return f"{least}{'values' if self.min_count != 1 else 'value'}, each {one} (comma-separated in a link)"

    def parse(self, raw: Any) -> Any:
        """Convert ``raw`` (a string from a URL or command line, or a Python value) and validate it.

        Raises
        ------
        InputError
            If the value has the wrong type or lies outside the allowed range.
        """
        if not self.many:
            return self._parse_one(raw)
        items = raw.split(LIST_SEPARATOR) if isinstance(raw, str) else raw
        try:
            items = [item for item in items if not (isinstance(item, str) and not item.strip())]
        except TypeError:
            raise InputError(self.name, f"expected {self.allowed()}, got {raw!r}") from None
        values = set(self._parse_one(item) for item in items)
        if len(values) < self.min_count:
            raise InputError(self.name, f"expected {self.allowed()}, got {raw!r}")
        if self.kind is str:
            return tuple(choice for choice in self.choices if choice in values)
        return tuple(sorted(values))

    def _parse_one(self, raw: Any) -> Any:
        bad = InputError(self.name, f"expected {self.allowed()}, got {raw!r}")
        if self.kind is str:
            value = str(raw).strip().lower()
            if value not in self.choices:
                raise bad
            return value
        if isinstance(raw, bool):
            raise bad
        try:
            number = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise bad
        if self.kind is int:
            if not number.is_integer():
                raise bad
            value = int(number)
        else:
            # 6 decimals drop slider float noise (0.15000000000000002); +0.0 turns -0.0 into 0.0
            value = round(number, FLOAT_DECIMALS) + 0.0
        if not (self.low <= value <= self.high):
            raise bad
        return value

    def text(self, value: Any) -> str:
        """``value`` as a URL or command line writes it (``35``, ``mmd,dann``)."""
        if self.many:
            return LIST_SEPARATOR.join(format_number(item) for item in value)
        return format_number(value)

    def widget_options(self, value: Any) -> list:
        """What a widget offers: the choices of a ``str`` knob, else the suggested options with the
        current value(s) added, sorted."""
        if self.kind is str:
            return list(self.choices)
        current = set(value) if self.many else {value}
        return sorted(set(self.options) | current)

    def show(self, value: Any) -> str:
        """Text a widget shows for one value."""
        return self.display(value) if self.display is not None else format_number(value)

    @property
    def flag(self) -> str:
        """The command-line flag of a page setting: ``--partial-layers`` for ``partial_layers``."""
        return "--" + self.name.replace("_", "-")


def format_number(value: Any) -> str:
    """Shortest exact text for a value: ``35`` rather than ``35.0``; strings unchanged."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


Settings = TypeVar("Settings", bound="KnobSet")


MAX_LINK_KEYS = 100  # a link's keys read at most: the app has about 40, a link with thousands is not ours


# What a page's models learn from, which names its transfer setting (core.labs.transfer_setting): the
# unlabelled target pool only, labelled target samples too, or some methods the one and some the other.
POOL_ONLY, WITH_TARGET_LABELS, BY_METHOD = "pool only", "with target labels", "by method"
USES = (POOL_ONLY, WITH_TARGET_LABELS, BY_METHOD)


class KnobSet:
    """Mixin for a frozen dataclass whose fields are the :class:`Knob` s of ``KNOBS`` (same names, same order).

    Construction validates every field (strings from a URL are parsed); the conversions below
    are the only way settings reach a URL, a command line or JSON.
    """

    KNOBS: ClassVar[tuple[Knob, ...]] = ()
    LEARNS: ClassVar[str | None] = None  # one of USES: what a page's models learn from

    def __post_init__(self) -> None:
        for knob in self.KNOBS:
            object.__setattr__(self, knob.name, knob.parse(getattr(self, knob.name)))

    @classmethod
    def knob_named(cls, name: str) -> Knob:
        return next(knob for knob in cls.KNOBS if knob.name == name)

    @classmethod
    def knob_names(cls) -> tuple[str, ...]:
        return tuple(knob.name for knob in cls.KNOBS)

    # --- building -----------------------------------------------------------------------
    @classmethod
    def from_mapping(cls: type[Settings], values: Mapping[str, Any]) -> Settings:
        """Build from a mapping of key to value (strings allowed); unknown keys are errors."""
        names = cls.knob_names()
        unknown = [key for key in values if key not in names]
        if unknown:
            raise InputError(unknown[0], "unknown key; allowed keys: " + ", ".join(names))
        return cls(**{key: cls.knob_named(key).parse(raw) for key, raw in values.items()})

    @classmethod
    def from_params(cls: type[Settings], params: Mapping[str, Any], ignore: tuple[str, ...] = (),
                    unknown_ok: bool = False, base: Mapping[str, Any] | None = None) -> tuple[Settings, list[str]]:
        """Read from URL parameters leniently: keep every valid key, list the bad ones (one line each; the
        unknown keys on one line together; a repeated key's last value is kept, said when its values differ;
        at most :data:`MAX_LINK_KEYS` keys are read).

        Keys in ``ignore`` are skipped; other unknown keys are listed unless ``unknown_ok``. A key that
        is valid alone but not with the others is dropped and listed too; the rest take their value in
        ``base`` (valid values of some keys), else their defaults.
        """
        values, problems, names, unknown = dict(base or {}), [], cls.knob_names(), []
        items = list(params.items())
        if len(items) > MAX_LINK_KEYS:
            problems.append(f"{len(items) - MAX_LINK_KEYS} keys beyond the first {MAX_LINK_KEYS}: ignored unread")
        for key, raw in items[:MAX_LINK_KEYS]:
            if key in ignore or (unknown_ok and key not in names):
                continue
            if key not in names:
                unknown.append(key)
                continue
            if isinstance(raw, list):  # a repeated key: the last one wins, as in most web apps, and is said so
                if len(set(raw)) > 1:
                    problems.append(f"{key}: given {len(raw)} times; the last value, {raw[-1]!r}, is kept")
                raw = raw[-1]
            try:
                values[key] = cls.knob_named(key).parse(raw)
            except InputError as error:
                problems.append(str(error))
        if unknown:  # one line for them all, however many
            shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
            noun = "unknown key" if len(unknown) == 1 else "unknown keys"
            problems.insert(0, str(InputError(shown, f"{noun}; allowed keys: " + ", ".join((*names, *ignore)))))
        while True:
            try:
                return cls(**values), problems
            except InputError as error:
                if error.field not in values:  # cannot happen with single-key checks; never loop forever
                    raise
                problems.append(str(error))
                del values[error.field]

    def replace(self: Settings, **changes: Any) -> Settings:
        """A copy with some keys changed (validated)."""
        return self.from_mapping({**self.to_dict(), **changes})

    # --- serialising --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every knob with its value."""
        return {knob.name: getattr(self, knob.name) for knob in self.KNOBS}

    def to_json(self) -> dict[str, Any]:
        """Every knob with its value, tuples as lists."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in self.to_dict().items()}

    def changed(self) -> dict[str, Any]:
        """The keys whose value differs from the default."""
        return {k.name: getattr(self, k.name) for k in self.KNOBS if getattr(self, k.name) != k.default}

    def to_params(self, pinned: tuple[str, ...] = ()) -> dict[str, str]:
        """URL parameters of the non-default keys and of the ``pinned`` ones (written even at their default), in
        ``KNOBS`` order, their values as the URL writes them."""
        return {k.name: k.text(getattr(self, k.name)) for k in self.KNOBS
                if k.name in pinned or getattr(self, k.name) != k.default}

    def to_query(self, pinned: tuple[str, ...] = ()) -> str:
        """Query string of :meth:`to_params`; round-trips exactly."""
        return "&".join(f"{key}={value}" for key, value in self.to_params(pinned).items())

    # --- the command line ---------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One ``--flag`` per knob; an absent flag keeps the knob's default."""
        for knob in cls.KNOBS:
            parser.add_argument(knob.flag, dest=knob.name, default=None, metavar=knob.name.upper(),
                                help=f"{knob.help} ({knob.allowed()}; default {knob.text(knob.default) or 'none'})")

    @classmethod
    def from_arguments(cls: type[Settings], args: argparse.Namespace) -> Settings:
        """The settings the flags of :meth:`add_arguments` give; errors name the flag."""
        given = {knob.name: getattr(args, knob.name) for knob in cls.KNOBS if getattr(args, knob.name) is not None}
        try:
            return cls.from_mapping(given)
        except InputError as error:
            flag = cls.knob_named(error.field).flag if error.field in cls.knob_names() else error.field
            raise InputError(flag, str(error).split(": ", 1)[1]) from None


def check_disjoint(*sets: type[KnobSet]) -> None:
    """Raise ValueError when two knob sets share a key (they share one URL)."""
    seen: dict[str, str] = {}
    for knob_set in sets:
        for name in knob_set.knob_names():
            if name in seen:
                raise ValueError(f"{name!r} is a key of both {seen[name]} and {knob_set.__name__}")
            seen[name] = knob_set.__name__


def dataclass_fields_match(cls: type[KnobSet]) -> bool:
    """Whether a KnobSet dataclass's fields are its knobs, in order, with the knobs' defaults."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    return [(f.name, f.default) for f in fields] == [(k.name, k.default) for k in cls.KNOBS]


def seeds_knob(help: str, default: int = 3) -> Knob:
    """The number of model seeds of a run (1 to 10): each page's and command's ``seeds``."""
    return Knob("seeds", int, default, "Seeds", help, low=1, high=10, step=1)
