"""The one error type that carries a human, one-line message about bad input."""


class InputError(ValueError):
    """Invalid input: the message names the field and what is allowed, on one line.

    The UI shows it with ``st.error``; the command line prints it to stderr and exits
    with status 2. Neither shows a traceback.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")
