"""The folio list of a migration and its batches (``NR_MAX_BATCHED_MIGRATION``); the
modes, flows and time categories a migration is described by are in
:mod:`sim.kernel.modes`.
"""
from dataclasses import dataclass

from sim.seed import PAGES as SEED_PAGES, TABLE1_WORKLOADS
from sw_driver.folio import is_folio_size, PAGE_SIZE


PAGE = PAGE_SIZE


NR_MAX_BATCHED_MIGRATION = 512


#: A folio this big is mapped by one PMD entry (a THP); smaller ones by PTEs.
PMD_BYTES = 2 << 20


MAX_FOLIO_BYTES = PMD_BYTES


#: The seed's workloads of table 1 (total bytes migrated).
WORKLOADS = {workload: SEED_PAGES[workload] * PAGE for workload in TABLE1_WORKLOADS}


#: Simulate at most this many batches of one run of equal batches before giving up
#: proving repetition (then the run is simulated in full only with ``full``).
MAX_SIMULATED_PER_RUN = 4


#: Noisy runs behind each mean ± SD.
DEFAULT_REPEAT = 10


class MigrateError(ValueError):
    """A migration request that cannot be modelled; the message says why."""


def check_folio_size(size):
    if not (is_folio_size(size) and size <= MAX_FOLIO_BYTES):
        raise MigrateError(f"folio size {size!r}: expected a power-of-two number of 4 KiB "
                           f"pages, 4 KiB to 2 MiB")


def folio_sizes(workload_bytes=None, folio_bytes=PAGE, sizes=None):
    """The folio list: ``sizes`` as given, or ``workload_bytes / folio_bytes`` folios."""
    if sizes is not None:
        sizes = list(sizes)
        for size in sizes:
            check_folio_size(size)
        if not sizes:
            raise MigrateError("the folio list is empty")
        if workload_bytes is not None and sum(sizes) != workload_bytes:
            raise MigrateError(f"folio sizes add up to {sum(sizes)} bytes, not the workload's "
                               f"{workload_bytes}")
        return sizes
    check_folio_size(folio_bytes)
    if not isinstance(workload_bytes, int) or workload_bytes <= 0 or \
            workload_bytes % folio_bytes:
        raise MigrateError(f"workload {workload_bytes!r} bytes is not a positive multiple of "
                           f"the {folio_bytes}-byte folio")
    return [folio_bytes] * (workload_bytes // folio_bytes)


def plan_batches(sizes, max_batch_pages=NR_MAX_BATCHED_MIGRATION):
    """(start, end) folio index ranges: batches of at most max_batch_pages base pages.

    (The kernel cuts its list after the folio that reaches the limit; with folio
    sizes that divide the limit, as in every workload here, the two agree.)
    """
    if not isinstance(max_batch_pages, int) or max_batch_pages < 1:
        raise MigrateError(f"max_batch_pages={max_batch_pages!r}: expected an int >= 1")
    batches, start, pages = [], 0, 0
    for i, size in enumerate(sizes):
        n = size // PAGE
        if pages and pages + n > max_batch_pages:
            batches.append((start, i))
            start, pages = i, 0
        pages += n
    batches.append((start, len(sizes)))
    return batches


def llc_resident(sizes, llc_bytes):
    """Per folio: is its source still in the LLC when it is copied (see module doc)."""
    total = sum(sizes) // PAGE
    out, first = [], 0
    for size in sizes:
        last = first + size // PAGE - 1
        out.append((total + last) * PAGE <= llc_bytes)
        first = last + 1
    return out


@dataclass
class Plan:
    """The folio list, its batches and what makes batches alike."""
    sizes: list
    batches: list
    resident: list
    dma_fail: frozenset = frozenset()
    poison: frozenset = frozenset()

    @classmethod
    def build(cls, sizes, *, max_batch_pages, llc_bytes, dma_fail=(), poison=()):
        for name, indices in (("dma_fail", dma_fail), ("poison", poison)):
            for i in indices:
                if not (isinstance(i, int) and 0 <= i < len(sizes)):
                    raise MigrateError(f"{name} folio {i!r} is not an index into the "
                                       f"{len(sizes)} folios")
        return cls(list(sizes), plan_batches(sizes, max_batch_pages),
                   llc_resident(sizes, llc_bytes), frozenset(dma_fail), frozenset(poison))

    @property
    def pages(self):
        return sum(self.sizes) // PAGE

    def signature(self, batch):
        start, end = batch
        return (tuple(self.sizes[start:end]), tuple(self.resident[start:end]),
                tuple(i for i in range(start, end) if i in self.dma_fail),
                tuple(i for i in range(start, end) if i in self.poison))

    def runs(self):
        """Maximal runs of consecutive batches with the same signature: lists of batches."""
        runs, last = [], None
        for batch in self.batches:
            sig = self.signature(batch)
            if runs and sig == last:
                runs[-1].append(batch)
            else:
                runs.append([batch])
                last = sig
        return runs

    def simulated_bound(self, full):
        """Upper bound of the bytes of folios that get simulated (for memory sizing)."""
        total = 0
        for run in self.runs():
            for start, end in (run if full else run[:MAX_SIMULATED_PER_RUN]):
                total += sum(self.sizes[start:end])
        return total
