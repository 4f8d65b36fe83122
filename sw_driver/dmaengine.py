"""The dmaengine framework: client API, provider contract, cookies, completions.

Mirrors include/linux/dmaengine.h and drivers/dma/dmaengine.[ch]. A client
requests a channel of a :class:`DmaDevice`, prepares a memcpy transaction
(:class:`DmaAsyncTxDescriptor`), submits it (a cookie is assigned, nothing
starts), issues pending work (the hardware starts), then learns the outcome by
polling the cookie (:func:`dma_sync_wait`) or from the transaction's callback,
typically completing a :class:`Completion` it sleeps on.

Cookies increase monotonically per channel. Completion is recorded per
cookie, so a transaction's status is right even when a provider finishes them
out of order: "complete" is never inferred from a later cookie having completed.

Everything that takes simulated time is a coroutine; the CPU cost of each
kernel operation is charged through the :class:`~sw_driver.port.Port` where
the kernel would spend it.
"""
import abc
import enum
import weakref
from dataclasses import dataclass

from .dma_mapping import DEFAULT_MAX_SEG_SIZE
from .port import Op

#: Smallest cookie value; the first submitted transaction gets DMA_MIN_COOKIE + 1.
DMA_MIN_COOKIE = 1
#: dma_sync_wait's timeout in the kernel (5000 ms).
DMA_SYNC_WAIT_TIMEOUT_NS = 5_000_000_000
#: A task blocked this long in wait_for_completion is reported hung (the kernel's 120 s).
HUNG_TASK_TIMEOUT_NS = 120_000_000_000

# enum dma_ctrl_flags (the ones this model uses).
DMA_PREP_INTERRUPT = 1 << 0   # raise an interrupt and run the callback when done
DMA_CTRL_ACK = 1 << 1         # the client will not reuse the descriptor


class DmaStatus(enum.Enum):
    """enum dma_status: the state of a cookie."""
    COMPLETE = "complete"
    IN_PROGRESS = "in_progress"
    ERROR = "error"


class DmaTransResult(enum.Enum):
    """enum dmaengine_tx_result: how a finished transaction ended."""
    NOERROR = "noerror"
    READ_FAILED = "read_failed"
    WRITE_FAILED = "write_failed"
    ABORTED = "aborted"


@dataclass(frozen=True)
class DmaengineResult:
    """struct dmaengine_result: the outcome and the bytes left uncopied (residue)."""
    result: DmaTransResult
    residue: int


NOERROR = DmaengineResult(DmaTransResult.NOERROR, 0)


class DmaEngineError(RuntimeError):
    """A dmaengine call was used against its contract, or the device misbehaved."""


class NoDmaChannelError(DmaEngineError):
    """dma_request_chan found no free channel (the kernel's -ENODEV)."""


class HungTaskError(TimeoutError):
    """wait_for_completion blocked longer than HUNG_TASK_TIMEOUT_NS."""


# --------------------------------------------------------------------------
# Channels, transactions and the provider contract
# --------------------------------------------------------------------------

class DmaChan:
    """struct dma_chan: one channel of a DMA device.

    ``cookie`` is the last cookie assigned, ``completed_cookie`` the highest
    cookie up to which every transaction has finished; finished cookies above
    it, and the results of failed ones, are kept per cookie.
    """

    def __init__(self, device, chan_id):
        self.device = device
        self.chan_id = chan_id
        self.client_count = 0
        dma_cookie_init(self)

    def __repr__(self):
        device = getattr(self.device, "name", "")       # dma0chan1, as sysfs names it
        return f"<{type(self).__name__} {device}chan{self.chan_id}>"


class DmaAsyncTxDescriptor:
    """struct dma_async_tx_descriptor: one prepared transaction.

    ``cookie`` is 0 until submitted. ``callback()`` or, if set,
    ``callback_result(DmaengineResult)`` runs once when the transaction
    finishes, however it ends. ``result`` holds the outcome once finished.
    """

    def __init__(self, chan, flags):
        self.chan = chan
        self.flags = flags
        self.cookie = 0
        self.callback = None
        self.callback_result = None
        self.result = None

    async def tx_submit(self):
        """Queue the transaction on its channel; returns its cookie."""
        if self.cookie:
            raise DmaEngineError(f"transaction already submitted (cookie {self.cookie})")
        return await self.chan.device.device_tx_submit(self)


class DmaDevice(abc.ABC):
    """struct dma_device: the contract a provider driver implements.

    ``channels`` lists its :class:`DmaChan` objects; ``copy_align`` is the
    log2 of the alignment its memcpy needs for addresses and length;
    ``max_seg_size`` the longest DMA segment a mapping of its struct device may
    merge (dma_get_max_seg_size).
    """

    def __init__(self, port, channels, copy_align, name="dma0",
                 max_seg_size=DEFAULT_MAX_SEG_SIZE):
        self.port = port
        self.channels = channels
        self.copy_align = copy_align
        self.name = name
        self.max_seg_size = max_seg_size

    @abc.abstractmethod
    async def device_prep_dma_memcpy(self, chan, dst, src, length, flags):
        """A transaction copying length bytes from bus address src to dst, or None
        when the hardware cannot do it."""

    @abc.abstractmethod
    async def device_tx_submit(self, tx):
        """Assign tx its cookie (:func:`dma_cookie_assign`) and queue it; returns the cookie."""

    @abc.abstractmethod
    async def device_issue_pending(self, chan):
        """Start every transaction submitted on chan."""

    @abc.abstractmethod
    async def device_tx_status(self, chan, cookie):
        """(DmaStatus, DmaengineResult or None while in progress) of cookie on chan,
        collecting whatever the hardware has finished."""

    @abc.abstractmethod
    def device_completion_pending(self, chan):
        """Whether the hardware has finished work on chan that device_tx_status has
        not collected yet. Cheap and free of CPU cost: dma_sync_wait spins on it."""

    @abc.abstractmethod
    async def device_terminate_all(self, chan):
        """Stop chan: everything queued or running is abandoned (may return early)."""

    @abc.abstractmethod
    async def device_synchronize(self, chan):
        """After device_terminate_all: wait until chan is quiet and every abandoned
        transaction has finished (result ABORTED) and had its callback."""


def is_dma_copy_aligned(device, off1, off2, length):
    """Whether both addresses and the length meet device.copy_align."""
    mask = (1 << device.copy_align) - 1
    return not ((off1 | off2 | length) & mask)


# --------------------------------------------------------------------------
# Cookies (drivers/dma/dmaengine.h)
# --------------------------------------------------------------------------

def dma_cookie_init(chan):
    """Reset chan's cookie counters: nothing assigned, nothing outstanding."""
    chan.cookie = chan.completed_cookie = DMA_MIN_COOKIE
    chan.completed_above = set()   # finished cookies > completed_cookie
    chan.failed = {}               # cookie -> DmaengineResult of failed transactions


def dma_cookie_assign(tx):
    """Give tx the channel's next cookie; returns it."""
    chan = tx.chan
    chan.cookie += 1
    tx.cookie = chan.cookie
    return tx.cookie


def dma_cookie_complete(tx, result):
    """Mark tx finished with ``result`` (a :class:`DmaengineResult`), in any order."""
    chan = tx.chan
    if not chan.completed_cookie < tx.cookie <= chan.cookie or tx.cookie in chan.completed_above:
        raise DmaEngineError(f"{chan}: cookie {tx.cookie} completed twice or never submitted")
    tx.result = result
    if result.result is not DmaTransResult.NOERROR:
        chan.failed[tx.cookie] = result
    chan.completed_above.add(tx.cookie)
    while chan.completed_cookie + 1 in chan.completed_above:
        chan.completed_cookie += 1
        chan.completed_above.remove(chan.completed_cookie)


def dma_cookie_status(chan, cookie):
    """(DmaStatus, DmaengineResult or None) of cookie from the bookkeeping alone."""
    if not DMA_MIN_COOKIE < cookie <= chan.cookie:
        raise ValueError(f"{chan}: cookie {cookie} was never assigned")
    if cookie in chan.failed:
        return DmaStatus.ERROR, chan.failed[cookie]
    if cookie <= chan.completed_cookie or cookie in chan.completed_above:
        return DmaStatus.COMPLETE, NOERROR
    return DmaStatus.IN_PROGRESS, None


def dma_cookie_outstanding(chan):
    """Whether some submitted transaction of chan has not finished."""
    return chan.completed_cookie != chan.cookie


async def dmaengine_desc_callback_invoke(tx):
    """Run tx's callback (callback_result if set, else callback), if it has one."""
    if tx.callback_result is None and tx.callback is None:
        return
    await tx.chan.device.port.cpu(Op.CALLBACK)
    if tx.callback_result is not None:
        tx.callback_result(tx.result)
    else:
        tx.callback()


# --------------------------------------------------------------------------
# Client API
# --------------------------------------------------------------------------

async def dma_request_chan(device):
    """A free memcpy channel of device (a :class:`DmaDevice`, or a sequence of them in
    registration order, as dma_request_chan_by_mask walks the device list: the first
    free channel of the first device that has one), now owned by the caller.

    Raises :class:`NoDmaChannelError` when every channel is taken.
    """
    devices = device if isinstance(device, (list, tuple)) else (device,)
    await devices[0].port.cpu(Op.CHAN_REQUEST)
    for one in devices:
        for chan in one.channels:
            if not chan.client_count:
                chan.client_count = 1
                return chan
    total = sum(len(one.channels) for one in devices)
    raise NoDmaChannelError(f"all {total} DMA channels are in use")


async def dma_release_channel(chan):
    """Give chan back; it must have nothing outstanding (terminate it first)."""
    if not chan.client_count:
        raise DmaEngineError(f"{chan} released but not requested")
    if dma_cookie_outstanding(chan):
        raise DmaEngineError(f"{chan} released with transactions outstanding (cookies "
                             f"{chan.completed_cookie + 1}..{chan.cookie}): terminate it first")
    await chan.device.port.cpu(Op.CHAN_RELEASE)
    chan.client_count = 0


async def dmaengine_prep_dma_memcpy(chan, dst, src, length, flags):
    """A memcpy transaction on chan (bus addresses), or None if the device can't do it."""
    if not chan.client_count:
        raise DmaEngineError(f"{chan} used without dma_request_chan")
    return await chan.device.device_prep_dma_memcpy(chan, dst, src, length, flags)


async def dmaengine_submit(tx):
    """Queue tx; returns its cookie. Nothing starts before dma_async_issue_pending."""
    return await tx.tx_submit()


async def dma_async_issue_pending(chan):
    """Start the transactions submitted on chan."""
    await chan.device.device_issue_pending(chan)


async def dmaengine_tx_status(chan, cookie):
    """(DmaStatus, DmaengineResult or None while in progress) of cookie."""
    return await chan.device.device_tx_status(chan, cookie)


async def dma_async_is_tx_complete(chan, cookie):
    """The DmaStatus of cookie."""
    status, _ = await dmaengine_tx_status(chan, cookie)
    return status


async def dmaengine_terminate_sync(chan):
    """Abort everything queued or running on chan and wait until it is quiet.

    Afterwards no transaction of chan is outstanding; those that had not
    finished end ABORTED, with their callbacks run.
    """
    await chan.device.port.cpu(Op.TERMINATE_SYNC)
    await chan.device.device_terminate_all(chan)
    await chan.device.device_synchronize(chan)


async def dma_sync_wait(chan, cookie, timeout_ns=DMA_SYNC_WAIT_TIMEOUT_NS):
    """Issue pending work, then busy-poll cookie's status; DmaStatus.ERROR on timeout.

    Each poll turn is a status check and a loop turn (Op.TX_STATUS,
    Op.POLL_ITERATION) looking at the provider's device_completion_pending;
    when it sees news, tx_status collects it.
    """
    port = chan.device.port
    deadline = port.now_ns + timeout_ns
    await dma_async_issue_pending(chan)
    while (status := await dma_async_is_tx_complete(chan, cookie)) is DmaStatus.IN_PROGRESS:
        remaining = deadline - port.now_ns
        if remaining <= 0 or not await port.poll(
                lambda: chan.device.device_completion_pending(chan), remaining,
                ops=(Op.TX_STATUS, Op.POLL_ITERATION)):
            return DmaStatus.ERROR     # the kernel's "dma_sync_wait: timeout!"
    return status


# --------------------------------------------------------------------------
# Interrupts and completions
# --------------------------------------------------------------------------

_irq_handlers = weakref.WeakKeyDictionary()   # port -> [(irq line, async handler())]


def request_irq(port, handler, irq=0):
    """Run the coroutine function handler() whenever interrupt line ``irq`` of port is
    taken (each device has its own line, as each PCI function its own vector)."""
    _irq_handlers.setdefault(port, []).append((irq, handler))


def free_irq(port, handler):
    """Remove a handler installed by :func:`request_irq`."""
    handlers = _irq_handlers.get(port, [])
    for entry in handlers:
        if entry[1] == handler:
            handlers.remove(entry)
            return
    raise ValueError(f"free_irq: {handler!r} is not installed")


async def generic_handle_irq(port):
    """Take the interrupt: run the handler of every line that is raised."""
    pending = port.pending_irqs()
    with port.hardirq():
        for irq, handler in tuple(_irq_handlers.get(port, ())):
            if pending >> irq & 1:
                await handler()


class Completion:
    """struct completion: ``complete()`` from a callback wakes a waiter.

    The model has one CPU: a waiter sleeps on the device interrupt, runs the
    interrupt handlers when it is taken (whose callbacks may complete this
    completion) and sleeps again until it is done.
    """

    def __init__(self, port):
        self.port = port
        self.done = 0

    def complete(self):
        """Mark the completion done (callable from a transaction callback)."""
        self.done += 1

    async def wait_for_completion_timeout(self, timeout_ns):
        """Sleep until done; returns the ns left (at least 1), or 0 on timeout."""
        port = self.port
        deadline = port.now_ns + timeout_ns
        woken = False
        while not self.done:
            remaining = deadline - port.now_ns
            if remaining <= 0 or not await port.wait_for_irq(remaining):
                return 0
            await generic_handle_irq(port)
            woken = True
        if woken:
            await port.cpu(Op.WAKEUP)
        self.done -= 1
        return max(1, deadline - port.now_ns)

    async def wait_for_completion(self):
        """Sleep until done, with no timeout; HungTaskError past HUNG_TASK_TIMEOUT_NS."""
        if not await self.wait_for_completion_timeout(HUNG_TASK_TIMEOUT_NS):
            raise HungTaskError(f"task blocked in wait_for_completion for more than "
                                f"{HUNG_TASK_TIMEOUT_NS / 1e9:g} s")
