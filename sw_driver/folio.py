"""A folio as the migration code sees it: a physically contiguous run of pages."""
from dataclasses import dataclass

PAGE_SIZE = 4096


@dataclass(frozen=True)
class Folio:
    """``size`` bytes (a power-of-two number of pages) at CPU address ``address`` on ``node``."""
    address: int
    size: int
    node: int = 0

    def __post_init__(self):
        pages = self.size // PAGE_SIZE
        if self.size <= 0 or self.size % PAGE_SIZE or pages & (pages - 1):
            raise ValueError(f"folio size {self.size:#x} is not a power-of-two number of "
                             f"{PAGE_SIZE}-byte pages")
        if self.address % PAGE_SIZE:
            raise ValueError(f"folio address {self.address:#x} is not page aligned")

    @property
    def nr_pages(self):
        return self.size // PAGE_SIZE
