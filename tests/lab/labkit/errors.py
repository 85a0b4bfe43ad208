"""The lab's one error type, apart so that layout (which system imports) can raise it."""


class LabError(RuntimeError):
    """The lab cannot do what was asked; the message says what to do about it."""
