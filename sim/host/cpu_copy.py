"""The CPU's copy of a folio (Linux's folio_mc_copy, copy_mc), one model for every port
that copies: the migration core's, the driver bench's, a driver's fallback.

Its price is the cost table's (:meth:`sim.host.costs.CostTable.cpu_copy_ns`): from the
LLC when the source's lines are still there (:attr:`CpuCopy.resident`), else from the
source's node, plus the write-back of the batch's earlier destinations inside a batch
copy (:attr:`CpuCopy.batched_copy`). The first copy after :meth:`CpuCopy.begin_copies`
also pays the copy routine's cold start (``cold_copy_ns``). A source in
:attr:`CpuCopy.poisoned` machine-checks half way on average: nothing is written and the
copy reports failure, as copy_mc does.
"""


class CpuCopy:
    """Mixin: the CPU copy. The port provides ``costs``, ``memory``, ``node_of(addr)``
    and ``_advance(ns, category, what)`` (let ns pass, charged to a category:
    "cold" for the cold start, "copy" for the copy)."""

    def _init_copy(self):
        self._copied = False
        self.resident = set()            # source addresses whose lines are in the LLC
        self.poisoned = set()            # source addresses whose read machine-checks
        self.batched_copy = False        # set around a batch copy

    def begin_copies(self):
        """A new migrate_pages() call: the copy routine is cold again."""
        self._copied = False

    def copy_cost_ns(self, dst, src, nbytes):
        """The cost table's CPU copy price for this copy: its source in the LLC or not,
        inside a batch copy or not."""
        return self.costs.cpu_copy_ns(nbytes, self.node_of(src), self.node_of(dst),
                                      src_in_llc=src in self.resident,
                                      batched=self.batched_copy)

    async def copy_cold_start(self):
        """The copy routine's cold start, once per call."""
        if not self._copied:
            self._copied = True
            await self._advance(self.costs.cold_copy_ns, "cold", "cold_start")

    def copy_now(self, dst, src, nbytes):
        """Copy the bytes unless the source is poisoned; (ns it takes, whether copied)."""
        ns = self.copy_cost_ns(dst, src, nbytes)
        if src in self.poisoned:
            return ns / 2, False
        self.memory.copy(dst, src, nbytes)
        return ns, True

    async def cpu_copy(self, dst, src, nbytes):
        """copy_mc of nbytes from src to dst; whether it copied."""
        await self.copy_cold_start()
        ns, copied = self.copy_now(dst, src, nbytes)
        await self._advance(ns, "copy", "cpu_copy")
        return copied
