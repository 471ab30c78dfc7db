"""The one error type that carries a human, one-line message about bad input."""


class InputError(ValueError):
    """Invalid input: the message names the field and what is allowed, on one line.

    The UI shows it with ``st.error``; the command line prints it to stderr and exits
    with status 2. Neither shows a traceback.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(" ".join(f"{field}: {message}".splitlines()))  # a key typed with a newline stays one line


def check_fields(owner: object, checks: list[tuple[str, bool, str]]) -> None:
    """Raise an :class:`InputError` for the first ``(field, ok, allowed)`` that is not ok, naming the
    field, what is allowed and the value ``owner`` has there."""
    for name, ok, allowed in checks:
        if not ok:
            raise InputError(name, f"expected {allowed}, got {getattr(owner, name)!r}")
