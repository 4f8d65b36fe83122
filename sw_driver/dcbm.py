"""dcbm, the DMA core batch migrator: a :class:`~sw_driver.migrate_offload.Migrator`
(the migration core's offload infrastructure, :mod:`sw_driver.migrate_offload`) over
dmaengine devices, with the copy strategy of each posted version selectable by name:

v1  page by page, serially: map both pages, prep, submit, dma_sync_wait (busy
    poll, 5 s), terminate_sync, unmap; a page the DMA fails is copied by the
    CPU (copy_mc: a page whose copy machine-checks is reported not copied).
    Folios bigger than a page are refused. ``v1_double_copy`` (the default)
    follows the posted code into its fallback label after success: the CPU
    copies the whole list again.
v2  folios dealt round-robin over up to nr_dma_chan channels; one mapping per
    folio side and one descriptor per folio, each with an interrupt and a
    callback counting completions; issue_pending per channel, one
    wait_for_completion; a folio the DMA fails is copied by the CPU. As posted
    the wait has no timeout; here it has v3's (``timeout_ns``), after which
    every channel is terminated and what did not complete is copied by the CPU.
    A CPU copy that machine-checks leaves its folio reported not copied.
v3  min(nr_dma_chan, folios, 16) channels, folios split evenly; per channel a
    source and a destination scatter-gather table, each mapped once, one
    descriptor per mapped DMA segment (entries merge up to the device's
    max_seg_size, see dma_mapping), only the last with interrupt and callback;
    one wait_for_completion_timeout (10 s) per channel. On error:
    terminate_sync, unmap, release, and report per folio what was not copied
    (a folio is copied when every descriptor covering it completed). Where the
    two tables' segments differ in layout, descriptors are split at the
    boundaries of both (dcbm pairs them one to one: dma-iommu gives both
    tables of a channel the same layout).

Every strategy checks each transaction's status after waiting, so it stays
right when descriptors complete out of order or a middle one fails.
"""
from dataclasses import dataclass, field

from .dma_mapping import (DMA_FROM_DEVICE, DMA_TO_DEVICE, dma_map_page, dma_map_sgtable,
                          dma_unmap_page, dma_unmap_sgtable, sg_alloc_table, sg_set_folio)
from .dmaengine import (DMA_CTRL_ACK, DMA_PREP_INTERRUPT, DMA_SYNC_WAIT_TIMEOUT_NS, Completion,
                        DmaEngineError, DmaStatus, NoDmaChannelError, dma_async_is_tx_complete,
                        dma_async_issue_pending, dma_release_channel, dma_request_chan,
                        dma_sync_wait, dmaengine_prep_dma_memcpy, dmaengine_submit,
                        dmaengine_terminate_sync)
from .folio import PAGE_SIZE
from .folios_copy import check_folio_lists, folio_copy, folios_copy
from .migrate_offload import Migrator, check_reasons, start_offloading, stop_offloading

#: Most channels dcbm uses for one batch (the nr_dma_chan knob's limit).
MAX_DMA_CHAN = 16
#: v3's wait per channel (10000 ms); v2's too.
V3_COMPLETION_TIMEOUT_NS = 10_000_000_000
STRATEGIES = ("v1", "v2", "v3")
#: The strategy of the later postings (scatter-gather per channel).
DEFAULT_STRATEGY = "v3"


def split_evenly(count, parts):
    """(start, end) of parts consecutive runs covering range(count), sizes within 1."""
    size, extra = divmod(count, parts)
    start = 0
    for part in range(parts):
        end = start + size + (part < extra)
        yield start, end
        start = end


@dataclass
class _ChanWork:
    """v3: one channel's share of the batch; ``cookies``: (start, end, cookie) of each
    descriptor, start and end byte offsets into the share."""
    chan: object
    start: int
    end: int
    src_sgt: object = None
    dst_sgt: object = None
    done: Completion = None
    cookies: list = field(default_factory=list)


def paired_segments(src_segments, dst_segments):
    """(source, destination, length, offset) of each copy between two mapped tables of
    equal total length, split where a segment of either ends; ``offset`` into the
    tables' bytes."""
    pieces, offset = [], 0
    src, dst = list(reversed(src_segments)), list(reversed(dst_segments))
    while src:
        (s_addr, s_len), (d_addr, d_len) = src.pop(), dst.pop()
        length = min(s_len, d_len)
        pieces.append((s_addr, d_addr, length, offset))
        offset += length
        if s_len > length:
            src.append((s_addr + length, s_len - length))
        if d_len > length:
            dst.append((d_addr + length, d_len - length))
    return pieces


def folios_completed(sizes, spans):
    """Per folio of ``sizes`` (consecutive bytes of a share), whether every span
    (start, end, done) overlapping it is done."""
    out, start, k = [], 0, 0
    for size in sizes:
        end, ok = start + size, True
        while k < len(spans) and spans[k][1] <= start:
            k += 1
        j = k
        while j < len(spans) and spans[j][0] < end:
            ok = ok and spans[j][2]
            j += 1
        out.append(ok)
        start = end
    return out


class _Countdown:
    """v2: completes ``done`` when ``expected`` callbacks have run."""

    def __init__(self, done):
        self.done = done
        self.expected = 0
        self.seen = 0

    def callback(self):
        self.seen += 1
        if self.seen == self.expected:
            self.done.complete()


class Dcbm(Migrator):
    """The DMA core batch migrator over the dmaengine devices that can memcpy.

    dma_dev         -- one :class:`~sw_driver.dmaengine.DmaDevice` or a list of them,
                       in registration order: channels are taken as
                       dma_request_chan_by_mask finds them (device by device).
    strategy        -- "v1", "v2" or "v3" (see the module docstring).
    nr_dma_chan     -- channels v2 and v3 use at most (1..16).
    v1_double_copy  -- v1: the CPU copies the whole list again after the DMA pass
                       (default True, the posted code as it reads).
    timeout_ns      -- v2's and v3's wait for the channels' completions.
    reasons         -- the ``reason_mask`` module parameter (v6): the migration reasons
                       whose batches dcbm takes, names of ``MIGRATE_REASONS``; None:
                       every reason.
    folios_migrated, folios_failures -- folios the DMA copied / failed to copy.
    timeouts        -- waits that timed out (the channels were then terminated).

    ``set_offloading`` is the ``offloading`` knob. Channels v2 and v3 request
    per batch; if fewer are free than wanted they use those they got.
    """

    name = "dcbm"

    def __init__(self, dma_dev, strategy=DEFAULT_STRATEGY, nr_dma_chan=1, v1_double_copy=True,
                 timeout_ns=V3_COMPLETION_TIMEOUT_NS, reasons=None):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown dcbm strategy {strategy!r}: expected one of {STRATEGIES}")
        self.dma_devs = list(dma_dev) if isinstance(dma_dev, (list, tuple)) else [dma_dev]
        if not self.dma_devs:
            raise ValueError("dcbm needs at least one DMA device")
        self.port = self.dma_devs[0].port
        self.strategy = strategy
        self.nr_dma_chan = nr_dma_chan
        self.v1_double_copy = v1_double_copy
        self.timeout_ns = timeout_ns
        self.reasons = check_reasons(reasons)
        self.folios_migrated = 0
        self.folios_failures = 0
        self.timeouts = 0
        self.offloading = False
        self._v1_chan = None
        self._copy = {"v1": self._copy_v1, "v2": self._copy_v2, "v3": self._copy_v3}[strategy]

    @property
    def nr_dma_chan(self):
        return self._nr_dma_chan

    @nr_dma_chan.setter
    def nr_dma_chan(self, value):
        if not 1 <= value <= MAX_DMA_CHAN:
            raise ValueError(f"nr_dma_chan={value}: expected 1..{MAX_DMA_CHAN}")
        self._nr_dma_chan = value

    async def set_offloading(self, enable):
        """1: register with the migration core (v1 first takes its one channel);
        0: unregister (v1 gives the channel back)."""
        if enable == self.offloading:
            return
        if enable:
            if self.strategy == "v1":
                self._v1_chan = await dma_request_chan(self.dma_devs)
            start_offloading(self)
        else:
            stop_offloading(self)
            if self._v1_chan is not None:
                await dma_release_channel(self._v1_chan)
                self._v1_chan = None
        self.offloading = enable

    def can_migrate(self, dst, src):
        """Same-size folios; v1 also refuses anything bigger than a page."""
        if dst.size != src.size:
            return False
        return self.strategy != "v1" or src.size <= PAGE_SIZE

    async def migrate_folios(self, dst_list, src_list):
        check_folio_lists(dst_list, src_list)
        if not src_list:
            return []
        return await self._copy(dst_list, src_list)

    def _account(self, dma_copied):
        if dma_copied:
            self.folios_migrated += 1
        else:
            self.folios_failures += 1

    async def _request_chans(self, count):
        """Up to count channels (fewer if fewer are free)."""
        chans = []
        try:
            while len(chans) < count:
                chans.append(await dma_request_chan(self.dma_devs))
        except NoDmaChannelError:
            pass
        return chans

    # --- v1 ---

    async def _copy_v1(self, dst_list, src_list):
        if self._v1_chan is None:
            raise DmaEngineError("dcbm v1 copies only while offloading (it holds no channel)")
        copied = []
        for dst, src in zip(dst_list, src_list):
            ok = await self._dma_page_copy_sync(self._v1_chan, dst, src)
            self._account(ok)
            copied.append(ok or await folio_copy(self.port, dst, src))
        if self.v1_double_copy:
            again = await folios_copy(self.port, dst_list, src_list)
            copied = [first and second for first, second in zip(copied, again)]
        return copied

    async def _dma_page_copy_sync(self, chan, dst, src):
        """v1's copy of one page: whether the DMA copied it."""
        port = self.port
        src_dma = await dma_map_page(port, src.address, src.size, DMA_TO_DEVICE)
        dst_dma = await dma_map_page(port, dst.address, dst.size, DMA_FROM_DEVICE)
        status = DmaStatus.ERROR
        tx = await dmaengine_prep_dma_memcpy(chan, dst_dma, src_dma, src.size, DMA_CTRL_ACK)
        if tx is not None:
            cookie = await dmaengine_submit(tx)
            status = await dma_sync_wait(chan, cookie, DMA_SYNC_WAIT_TIMEOUT_NS)
            await dmaengine_terminate_sync(chan)
        await dma_unmap_page(port, dst_dma, dst.size, DMA_FROM_DEVICE)
        await dma_unmap_page(port, src_dma, src.size, DMA_TO_DEVICE)
        return status is DmaStatus.COMPLETE

    # --- v2 ---

    async def _copy_v2(self, dst_list, src_list):
        port = self.port
        chans = await self._request_chans(self.nr_dma_chan)
        if not chans:
            for _ in src_list:
                self._account(False)
            return await folios_copy(port, dst_list, src_list)
        countdown = _Countdown(Completion(port))
        jobs = []          # (chan, cookie or None, dst, src, dst_dma, src_dma)
        for i, (dst, src) in enumerate(zip(dst_list, src_list)):
            chan = chans[i % len(chans)]
            src_dma = await dma_map_page(port, src.address, src.size, DMA_TO_DEVICE)
            dst_dma = await dma_map_page(port, dst.address, dst.size, DMA_FROM_DEVICE)
            tx = await dmaengine_prep_dma_memcpy(chan, dst_dma, src_dma, src.size,
                                                 DMA_PREP_INTERRUPT | DMA_CTRL_ACK)
            cookie = None
            if tx is not None:
                tx.callback = countdown.callback
                cookie = await dmaengine_submit(tx)
                countdown.expected += 1
            jobs.append((chan, cookie, dst, src, dst_dma, src_dma))
        for chan in chans:
            await dma_async_issue_pending(chan)
        if countdown.expected and \
                not await countdown.done.wait_for_completion_timeout(self.timeout_ns):
            self.timeouts += 1
            for chan in chans:
                await dmaengine_terminate_sync(chan)
        copied = []
        for chan, cookie, dst, src, dst_dma, src_dma in jobs:
            ok = cookie is not None and \
                await dma_async_is_tx_complete(chan, cookie) is DmaStatus.COMPLETE
            await dma_unmap_page(port, dst_dma, dst.size, DMA_FROM_DEVICE)
            await dma_unmap_page(port, src_dma, src.size, DMA_TO_DEVICE)
            self._account(ok)
            copied.append(ok or await folio_copy(port, dst, src))
        for chan in chans:
            await dma_release_channel(chan)
        return copied

    # --- v3 ---

    async def _copy_v3(self, dst_list, src_list):
        port = self.port
        count = len(src_list)
        chans = await self._request_chans(min(self.nr_dma_chan, count, MAX_DMA_CHAN))
        if not chans:
            self.folios_failures += count
            return [False] * count
        works = [_ChanWork(chan, start, end)
                 for chan, (start, end) in zip(chans, split_evenly(count, len(chans)))]
        prepared = await self._v3_prep_all(works, dst_list, src_list)
        if prepared:
            for work in works:
                await dma_async_issue_pending(work.chan)
        waited = prepared and await self._v3_wait(works)
        if not waited:
            await self._v3_terminate(works)
        copied = [False] * count
        for work in works:
            spans = [(start, end, await dma_async_is_tx_complete(work.chan, cookie)
                      is DmaStatus.COMPLETE) for start, end, cookie in work.cookies]
            sizes = [src_list[i].size for i in range(work.start, work.end)]
            if work.cookies and work.cookies[-1][1] == sum(sizes):      # all prepared
                copied[work.start:work.end] = folios_completed(sizes, spans)
        if waited and not all(copied):
            await self._v3_terminate(works)
        for work in works:
            if work.src_sgt is not None:
                await dma_unmap_sgtable(port, work.src_sgt)
                await dma_unmap_sgtable(port, work.dst_sgt)
            await dma_release_channel(work.chan)
        migrated = sum(copied)
        self.folios_migrated += migrated
        self.folios_failures += count - migrated
        return copied

    async def _v3_prep_all(self, works, dst_list, src_list):
        """Prepare every channel's share; False as soon as a prep is refused."""
        for work in works:
            if not await self._v3_prep(work, dst_list, src_list):
                return False
        return True

    async def _v3_wait(self, works):
        """Wait for each channel's last descriptor; False on the first timeout."""
        for work in works:
            if not await work.done.wait_for_completion_timeout(self.timeout_ns):
                self.timeouts += 1
                return False
        return True

    async def _v3_prep(self, work, dst_list, src_list):
        """Build, map and submit one channel's share; False if a prep was refused."""
        port = self.port
        nents = work.end - work.start
        work.src_sgt = await sg_alloc_table(port, nents)
        work.dst_sgt = await sg_alloc_table(port, nents)
        for k, i in enumerate(range(work.start, work.end)):
            sg_set_folio(work.src_sgt.sgl[k], src_list[i])
            sg_set_folio(work.dst_sgt.sgl[k], dst_list[i])
        max_seg_size = work.chan.device.max_seg_size
        await dma_map_sgtable(port, work.src_sgt, DMA_TO_DEVICE, max_seg_size)
        await dma_map_sgtable(port, work.dst_sgt, DMA_FROM_DEVICE, max_seg_size)
        work.done = Completion(port)
        pieces = paired_segments(work.src_sgt.dma_segments(), work.dst_sgt.dma_segments())
        for k, (src, dst, length, offset) in enumerate(pieces):
            last = k == len(pieces) - 1
            flags = DMA_CTRL_ACK | (DMA_PREP_INTERRUPT if last else 0)
            tx = await dmaengine_prep_dma_memcpy(work.chan, dst, src, length, flags)
            if tx is None:
                return False
            if last:
                tx.callback = work.done.complete
            work.cookies.append((offset, offset + length, await dmaengine_submit(tx)))
        return True

    async def _v3_terminate(self, works):
        for work in works:
            await dmaengine_terminate_sync(work.chan)
