"""A fault a service handler answers on purpose, with a stable code."""


class ServiceFault(Exception):
    """Raised by a service handler to answer with a stable fault `code` (e.g. server.provider_unreachable)
    rather than the exception's class name, which is what any other exception answers with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
