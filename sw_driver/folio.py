"""A folio as the migration code sees it: a physically contiguous run of pages."""
import operator
from dataclasses import dataclass

PAGE_SIZE = 4096


def is_folio_size(size):
    """Whether size (bytes, any integer type) is a power-of-two number of pages."""
    try:
        size = operator.index(size)
    except TypeError:
        return False
    pages = size // PAGE_SIZE
    return pages >= 1 and size % PAGE_SIZE == 0 and pages & (pages - 1) == 0


@dataclass(frozen=True)
class Folio:
    """``size`` bytes (a power-of-two number of pages) at CPU address ``address``."""
    address: int
    size: int

    def __post_init__(self):
        if not is_folio_size(self.size):
            raise ValueError(f"folio size {self.size!r} is not a power-of-two number of "
                             f"{PAGE_SIZE}-byte pages")
        if self.address % PAGE_SIZE:
            raise ValueError(f"folio address {self.address:#x} is not page aligned")
