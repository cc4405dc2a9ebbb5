"""How the dashboard writes values: escaped, bilingual (Vietnamese first), ratios as percentages."""

from html import escape


def esc(value: object) -> str:
    """HTML-escape any value (quotes too, so it is safe inside attributes)."""
    return escape(str(value), quote=True)


def bilingual(vi: str, en: str) -> str:
    """A Vietnamese label with its English alongside."""
    return f'{esc(vi)} <span class="en">{esc(en)}</span>'


def percent(ratio: float | None) -> str:
    """`50.0%`, or an em dash while there is nothing to divide by."""
    return "—" if ratio is None else f"{ratio * 100:.1f}%"
