"""foliodma: the dmaengine provider driver for the foliodma copy engine.

Per channel the driver owns a descriptor ring and one completion-record slot
per ring entry, in coherent memory. Transactions move through three queues:
``submitted`` (dmaengine_submit), ``issued`` (dma_async_issue_pending, waiting
for ring space) and ``active`` (in the ring, in ring order). Issuing writes
every issued descriptor that fits, then rings the doorbell with one TAIL write;
the rest is posted as completions free ring space. A device probed with
``max_inflight`` keeps at most that many descriptors of a channel in its ring at
once, as the Linux PTDMA driver keeps one (it starts a channel's next descriptor
from the completion of the one before).

The engine finishes a channel's descriptors in ring order and writes each one's
completion record; the driver collects records in that order, from
tx_status and from the interrupt handler. When a channel halts on an error
(a failed record, or STATUS.halted), the driver reads STATUS.code, resets the
channel (HEAD = TAIL = 0), fails the transaction it stopped at and posts the
ones after it again from ring index 0, so the rest still complete.
"""
import collections
from dataclasses import dataclass

from hw.descriptor import (DESC_BYTES, DESC_FIELD_BITS, FLAG_INTERRUPT, RECORD_BYTES, Status,
                           pack_descriptor, unpack_record)
from hw.params import MAX_CHANNELS
from hw.regmap import load_regmap

from .dma_mapping import DEFAULT_MAX_SEG_SIZE, DMA_TO_DEVICE
from .dmaengine import (DMA_PREP_INTERRUPT, NOERROR, DmaAsyncTxDescriptor, DmaChan, DmaDevice,
                        DmaEngineError, DmaengineResult, DmaStatus, DmaTransResult,
                        dma_cookie_assign, dma_cookie_complete, dma_cookie_status,
                        dmaengine_desc_callback_invoke, free_irq, is_dma_copy_aligned,
                        request_irq)
from .port import Op

#: The register interface major version this driver speaks.
VERSION_MAJOR = 0
DEFAULT_RING_ENTRIES = 256
#: How long an abort or a reset may take to drain before the driver gives up (default).
CHANNEL_TIMEOUT_NS = 100_000
#: The most a descriptor's length field holds.
MAX_XFER_BYTES = (1 << DESC_FIELD_BITS["len"]) - 1

#: How each failure code reads to a dmaengine client: failures to read a
#: descriptor or its data, or a descriptor found invalid, are read failures;
#: failures to write the data or the completion record are write failures.
RESULT_OF_STATUS = {
    Status.READ_SLVERR: DmaTransResult.READ_FAILED,
    Status.READ_DECERR: DmaTransResult.READ_FAILED,
    Status.DESC_READ_ERROR: DmaTransResult.READ_FAILED,
    Status.ZERO_LENGTH: DmaTransResult.READ_FAILED,
    Status.SRC_MISALIGNED: DmaTransResult.READ_FAILED,
    Status.DST_MISALIGNED: DmaTransResult.READ_FAILED,
    Status.LEN_MISALIGNED: DmaTransResult.READ_FAILED,
    Status.WRITE_SLVERR: DmaTransResult.WRITE_FAILED,
    Status.WRITE_DECERR: DmaTransResult.WRITE_FAILED,
    Status.RECORD_MISALIGNED: DmaTransResult.WRITE_FAILED,
    Status.RECORD_WRITE_ERROR: DmaTransResult.WRITE_FAILED,
    Status.ABORTED: DmaTransResult.ABORTED,
}


class FoliodmaError(DmaEngineError):
    """The device is not a supported foliodma engine, or a channel did not respond."""


@dataclass(frozen=True)
class FoliodmaCaps:
    """What probe read from VERSION and CAPS0..2."""
    version: tuple
    beat_bytes: int
    channels: int
    max_burst: int
    outstanding_reads: int
    outstanding_writes: int
    prefetch_depth: int
    buffer_depth: int


@dataclass(frozen=True)
class ChanStatus:
    """A channel's STATUS register."""
    busy: bool
    halted: bool
    code: Status


class FoliodmaTx(DmaAsyncTxDescriptor):
    """A memcpy transaction; ``index`` is its ring slot while it is in the ring."""

    def __init__(self, chan, dst, src, length, flags):
        super().__init__(chan, flags)
        self.dst = dst
        self.src = src
        self.len = length
        self.index = None


class FoliodmaChan(DmaChan):
    """One engine channel: its ring, record slots, register addresses and queues;
    ``inflight``: the most descriptors the driver keeps in the ring at once."""

    def __init__(self, device, chan_id, ring, records, entries, inflight):
        super().__init__(device, chan_id)
        self.ring = ring
        self.records = records
        self.entries = entries
        self.inflight = inflight
        self.tail = 0                       # software's copy of TAIL
        self.submitted = collections.deque()
        self.issued = collections.deque()
        self.active = collections.deque()

    def reg(self, name):
        """MMIO offset of this channel's register ``name``."""
        return self.device.mmio_base + self.device.regmap.address(f"chan[{self.chan_id}].{name}")

    def record_addr(self, index):
        return self.records + index * RECORD_BYTES

    def record(self, tx):
        """(Status, bytes) of tx's completion record."""
        return unpack_record(self.device.port.mem_read(self.record_addr(tx.index), RECORD_BYTES))

    def ring_space(self):
        """Ring slots the driver may fill now: one stays empty so that a full ring differs
        from an empty one, and at most ``inflight`` are in use."""
        return self.inflight - len(self.active)


class FoliodmaDevice(DmaDevice):
    """A probed foliodma engine (see :func:`foliodma_probe`); ``resets`` counts the
    channel resets its recoveries and terminations made."""

    def __init__(self, port, regmap, caps, ring_entries, mmio_base=0, irq=0,
                 max_inflight=None, max_seg_size=DEFAULT_MAX_SEG_SIZE,
                 channel_timeout_ns=CHANNEL_TIMEOUT_NS):
        self.regmap = regmap
        self.channel_timeout_ns = channel_timeout_ns
        self.resets = 0
        self.caps = caps
        self.mmio_base = mmio_base
        self.irq = irq
        channels = []
        for chan_id in range(caps.channels):
            # The engine only reads its ring: mapped for reads alone (as a driver would
            # get it from dma_alloc_noncoherent(DMA_TO_DEVICE)), so that no descriptor
            # can make it write there.
            ring = port.alloc_coherent(ring_entries * DESC_BYTES, align=DESC_BYTES,
                                       direction=DMA_TO_DEVICE)
            records = port.alloc_coherent(ring_entries * RECORD_BYTES, align=RECORD_BYTES)
            channels.append(FoliodmaChan(self, chan_id, ring, records, ring_entries,
                                         min(ring_entries - 1, max_inflight or ring_entries)))
        super().__init__(port, channels, copy_align=caps.beat_bytes.bit_length() - 1,
                         name=f"dma{irq}", max_seg_size=max_seg_size)
        status = regmap.register("int_status")
        self._int_status = mmio_base + status.address
        self._int_done, self._int_error = status.fields["done"], status.fields["error"]
        ctrl = regmap.register("chan[0].ctrl").fields
        self._ctrl_reset = ctrl["reset"].insert(0, 1)
        self._ctrl_abort = ctrl["abort"].insert(0, 1)
        self._status_fields = regmap.register("chan[0].status").fields
        bus_status = regmap.register("bus_status")
        self._bus_status = mmio_base + bus_status.address
        self._bus_status_fields = bus_status.fields

    def int_bits(self, chan):
        """chan's done and error bits, as laid out in INT_STATUS and INT_ENABLE."""
        bit = 1 << chan.chan_id
        return self._int_error.insert(self._int_done.insert(0, bit), bit)

    # --- dmaengine provider operations ---

    async def device_prep_dma_memcpy(self, chan, dst, src, length, flags):
        """A FoliodmaTx, or None for what the engine rejects (zero length, a length
        beyond 32 bits, addresses or length not multiples of the beat size)."""
        if not 0 < length <= MAX_XFER_BYTES or not is_dma_copy_aligned(self, dst, src, length):
            return None
        await self.port.cpu(Op.PREP_MEMCPY)
        return FoliodmaTx(chan, dst, src, length, flags)

    async def device_tx_submit(self, tx):
        await self.port.cpu(Op.TX_SUBMIT)
        cookie = dma_cookie_assign(tx)
        tx.chan.submitted.append(tx)
        return cookie

    async def device_issue_pending(self, chan):
        await self.port.cpu(Op.ISSUE_PENDING)
        chan.issued.extend(chan.submitted)
        chan.submitted.clear()
        await self._post(chan)

    async def device_tx_status(self, chan, cookie):
        await self.port.cpu(Op.TX_STATUS)
        status, result = dma_cookie_status(chan, cookie)
        if status is DmaStatus.IN_PROGRESS:
            await self._process_completions(chan)
            status, result = dma_cookie_status(chan, cookie)
        return status, result

    def device_completion_pending(self, chan):
        return bool(chan.active) and chan.record(chan.active[0])[0] is not Status.NOT_DONE

    async def device_terminate_all(self, chan):
        """CTRL.abort: the channel stops once the bursts already issued complete."""
        await self.port.mmio_write(chan.reg("ctrl"), self._ctrl_abort)

    async def device_synchronize(self, chan):
        """Wait until the aborted channel has drained (not busy: halted by the abort, or
        by an error, or reset meanwhile by someone else), reset it, and finish every
        transaction: those whose record shows success complete normally, the one the
        channel stopped at gets its record's (or STATUS's) result, the rest ABORTED."""
        status = await self._wait_status(chan, lambda s: not s.busy, "idle after abort")
        finished = await self._reset_and_fail_current(chan, status.code)
        for tx in (*chan.active, *chan.issued, *chan.submitted):
            finished.append((tx, DmaengineResult(DmaTransResult.ABORTED, tx.len)))
        chan.active.clear()
        chan.issued.clear()
        chan.submitted.clear()
        await self._finish(finished)

    # --- interrupt ---

    async def irq_handler(self):
        """Acknowledge INT_STATUS (write 1 to clear), then collect the flagged channels;
        a channel flagged in error that is halted without a failed record is recovered."""
        await self.port.cpu(Op.IRQ_HANDLER)
        pending = await self.port.mmio_read(self._int_status)
        if not pending:
            return
        await self.port.mmio_write(self._int_status, pending)
        done, error = self._int_done.extract(pending), self._int_error.extract(pending)
        for chan in self.channels:
            bit = 1 << chan.chan_id
            if not (done | error) & bit:
                continue
            recovered = await self._process_completions(chan)
            if error & bit and not recovered:
                status = await self._read_status(chan)
                if status.halted:
                    await self._finish(await self._recover(chan, status.code))

    # --- ring and completion handling ---

    async def _post(self, chan):
        """Write as many issued transactions into the ring as fit (clearing each
        one's record slot), then submit them with one TAIL write. When some must
        wait for ring space, the last one posted interrupts, whatever its flags:
        its completion frees the space to post the rest."""
        count = min(len(chan.issued), chan.ring_space())
        if not count:
            return
        ring_full = count < len(chan.issued)
        for i in range(count):
            tx = chan.issued.popleft()
            tx.index = chan.tail
            record = chan.record_addr(tx.index)
            wants = tx.flags & DMA_PREP_INTERRUPT or (ring_full and i == count - 1)
            flags = FLAG_INTERRUPT if wants else 0
            self.port.mem_write(record, bytes(RECORD_BYTES))
            self.port.mem_write(chan.ring + tx.index * DESC_BYTES,
                                pack_descriptor(tx.src, tx.dst, tx.len, flags, record))
            chan.active.append(tx)
            chan.tail = (chan.tail + 1) % chan.entries
        await self.port.cpu(Op.DESC_STORE, count)
        await self.port.mmio_write(chan.reg("tail"), chan.tail)

    def _retire_successes(self, chan):
        """(tx, NOERROR) for the leading ring entries whose record reads SUCCESS, removed."""
        finished = []
        while chan.active and chan.record(chan.active[0])[0] is Status.SUCCESS:
            finished.append((chan.active.popleft(), NOERROR))
        return finished

    async def _process_completions(self, chan):
        """Collect chan's finished transactions in ring order and post more; on a
        failed record, recover the channel. Returns whether it recovered."""
        finished = self._retire_successes(chan)
        failed = self.device_completion_pending(chan)   # the next record is a failure
        if failed:
            status = await self._wait_status(chan, lambda s: s.halted or not s.busy,
                                             "halted")
            finished += await self._recover(chan, status.code)
        elif finished:
            await self._post(chan)
        await self._finish(finished)
        return failed

    async def _recover(self, chan, code):
        """Restart a channel halted with ``code``: reset it, fail the transaction it
        stopped at and post the ones after it again from ring index 0.
        Returns the (tx, result) pairs that finished."""
        finished = await self._reset_and_fail_current(chan, code)
        chan.issued.extendleft(reversed(chan.active))
        chan.active.clear()
        await self._post(chan)
        return finished

    async def _reset_and_fail_current(self, chan, code):
        """Reset the stopped channel, retire what succeeded before it stopped and fail
        the transaction it stopped at, with its record's status if the record was
        written, else with ``code`` (STATUS.code read before the reset; ABORTED if that
        names no failure: the channel was reset, not halted)."""
        await self._reset(chan)
        finished = self._retire_successes(chan)
        if chan.active:
            tx = chan.active.popleft()
            status, nbytes = chan.record(tx)
            if status is not Status.NOT_DONE:
                code, residue = status, tx.len - nbytes
            else:
                residue = tx.len
            result = RESULT_OF_STATUS.get(code, DmaTransResult.ABORTED)
            finished.append((tx, DmaengineResult(result, residue)))
        return finished

    async def _finish(self, finished):
        """Complete the cookies of (tx, result) pairs, then run their callbacks, in order."""
        for tx, result in finished:
            dma_cookie_complete(tx, result)
        for tx, _ in finished:
            await dmaengine_desc_callback_invoke(tx)

    # --- channel registers ---

    async def _read_status(self, chan):
        word = await self.port.mmio_read(chan.reg("status"))
        fields = self._status_fields
        return ChanStatus(busy=bool(fields["busy"].extract(word)),
                          halted=bool(fields["halted"].extract(word)),
                          code=Status(fields["code"].extract(word)))

    async def _wait_status(self, chan, ready, what):
        """Poll chan's STATUS over MMIO until ready(status); returns that status."""
        deadline = self.port.now_ns + self.channel_timeout_ns
        while not ready(status := await self._read_status(chan)):
            if self.port.now_ns >= deadline:
                raise FoliodmaError(f"channel {chan.chan_id}: not {what} after "
                                    f"{self.channel_timeout_ns} ns ({status})"
                                    f"{await self._bus_trouble()}")
            await self.port.cpu(Op.POLL_ITERATION)
        return status

    async def _bus_trouble(self):
        """What BUS_STATUS says of the bus, for an error message: "" when nothing."""
        word = await self.port.mmio_read(self._bus_status)
        dropped = [name for name, field in self._bus_status_fields.items()
                   if field.extract(word)]
        return f"; the engine dropped responses it was not owed ({', '.join(dropped)})" \
            if dropped else ""

    async def _reset(self, chan):
        """CTRL.reset, then wait until the channel has drained and HEAD = TAIL = 0;
        its interrupt causes are cleared (the caller collects its work). A channel
        found idle but halted again (another agent aborted it after the reset) is
        reset again, until the channel timeout."""
        self.resets += 1
        deadline = self.port.now_ns + self.channel_timeout_ns
        await self.port.mmio_write(chan.reg("ctrl"), self._ctrl_reset)
        while (await self._wait_status(chan, lambda s: not s.busy, "reset")).halted:
            if self.port.now_ns >= deadline:
                raise FoliodmaError(f"channel {chan.chan_id}: halted again after every "
                                    f"reset for {self.channel_timeout_ns} ns")
            await self.port.mmio_write(chan.reg("ctrl"), self._ctrl_reset)
        chan.tail = 0
        await self.port.mmio_write(self._int_status, self.int_bits(chan))


async def program_ring(port, regmap, mmio_base, channel, ring, entries):
    """Point ``channel`` of the engine at ``mmio_base`` at the ring of ``entries``
    descriptors at bus address ``ring``: RING_BASE_LO, RING_BASE_HI, RING_SIZE.
    ``port``: anything with ``async mmio_write(offset, value)``."""
    for name, value in (("ring_base_lo", ring & 0xFFFF_FFFF), ("ring_base_hi", ring >> 32),
                        ("ring_size", entries)):
        register = regmap.register(f"chan[{channel}].{name}")
        await port.mmio_write(mmio_base + register.address, value)


async def foliodma_probe(port, ring_entries=DEFAULT_RING_ENTRIES, mmio_base=0, irq=0,
                         max_inflight=None, max_seg_size=DEFAULT_MAX_SEG_SIZE,
                         channel_timeout_ns=CHANNEL_TIMEOUT_NS):
    """Find and set up the engine whose registers start at ``mmio_base`` of port's MMIO
    space and whose interrupt is line ``irq``; returns its :class:`FoliodmaDevice`.
    ``max_inflight``: descriptors per channel in the ring at once (None: as many as fit;
    1: one at a time, each interrupting, as the Linux PTDMA driver issues them).
    ``max_seg_size``: the device's DMA segment limit (dma_set_max_seg_size; default:
    the PCI core's, which this driver leaves as it is). ``channel_timeout_ns``: how
    long an aborted or reset channel may take to drain its bursts in flight.

    Checks ID and VERSION, reads the capabilities, gives every channel a ring of
    ring_entries descriptors and its record slots, enables the done and error
    interrupts of every channel (one interrupt per flagged completion) and
    installs the interrupt handler.
    """
    regmap = load_regmap()
    most = (1 << regmap.register("chan[0].ring_size").fields["entries"].width) - 1
    if not 2 <= ring_entries <= most:
        raise ValueError(f"ring_entries={ring_entries}: expected 2..{most}")
    if max_inflight is not None and not (isinstance(max_inflight, int) and max_inflight >= 1):
        raise ValueError(f"max_inflight={max_inflight!r}: expected None or an int >= 1")

    async def read_fields(path):
        register = regmap.register(path)
        word = await port.mmio_read(mmio_base + register.address)
        return {name: field.extract(word) for name, field in register.fields.items()}

    magic = regmap.register("id").fields["ident"].reset
    ident = (await read_fields("id"))["ident"]
    if ident != magic:
        raise FoliodmaError(f"no foliodma engine: ID reads {ident:#010x}, expected {magic:#010x}")
    version = await read_fields("version")
    if version["major"] != VERSION_MAJOR:
        raise FoliodmaError(f"register interface version {version['major']}.{version['minor']} "
                            f"is not supported (this driver speaks {VERSION_MAJOR}.x)")
    caps0, caps1, caps2 = [await read_fields(path) for path in ("caps0", "caps1", "caps2")]
    if not 1 <= caps0["channels"] <= MAX_CHANNELS:
        raise FoliodmaError(f"CAPS0 reports {caps0['channels']} channels (expected "
                            f"1..{MAX_CHANNELS})")
    caps = FoliodmaCaps(version=(version["major"], version["minor"]),
                        beat_bytes=1 << caps0["beat_bytes_log2"], channels=caps0["channels"],
                        max_burst=caps0["max_burst"], **caps1, **caps2)

    if not (isinstance(max_seg_size, int) and max_seg_size >= caps.beat_bytes):
        raise ValueError(f"max_seg_size={max_seg_size!r}: expected an int of at least one "
                         f"beat ({caps.beat_bytes} bytes)")
    dev = FoliodmaDevice(port, regmap, caps, ring_entries, mmio_base=mmio_base, irq=irq,
                         max_inflight=max_inflight, max_seg_size=max_seg_size,
                         channel_timeout_ns=channel_timeout_ns)
    for chan in dev.channels:
        await program_ring(port, regmap, mmio_base, chan.chan_id, chan.ring, ring_entries)
    irq_coal = regmap.register("irq_coal")
    await port.mmio_write(mmio_base + irq_coal.address, irq_coal.fields["count"].insert(0, 1))
    request_irq(port, dev.irq_handler, irq)
    enable = 0
    for chan in dev.channels:
        enable |= dev.int_bits(chan)
    await port.mmio_write(mmio_base + regmap.address("int_enable"), enable)
    return dev


async def foliodma_remove(dev):
    """Disable the interrupts and remove the handler; every channel must be released."""
    busy = [chan.chan_id for chan in dev.channels if chan.client_count]
    if busy:
        raise FoliodmaError(f"foliodma_remove: channels {busy} are still in use")
    await dev.port.mmio_write(dev.mmio_base + dev.regmap.address("int_enable"), 0)
    free_irq(dev.port, dev.irq_handler)
