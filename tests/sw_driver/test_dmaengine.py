"""dmaengine (sw_driver/dmaengine.py): cookies, completions and waits, on the fake
platform."""
import asyncio

import pytest

from sw_driver.dmaengine import (DMA_MIN_COOKIE, NOERROR, Completion, DmaAsyncTxDescriptor,
                                 DmaChan, DmaEngineError, DmaengineResult, DmaStatus,
                                 DmaTransResult, dma_cookie_assign, dma_cookie_complete,
                                 dma_cookie_outstanding, dma_cookie_status,
                                 dma_request_chan, dma_sync_wait, dmaengine_prep_dma_memcpy,
                                 dmaengine_submit, request_irq)
from sw_driver.port import Op
from tests.sw_driver.fakes import FakePort, ReverseDevice


def test_cookies_increase_and_completion_is_tracked_per_cookie():
    chan = DmaChan(device=None, chan_id=0)
    txs = [DmaAsyncTxDescriptor(chan, 0) for _ in range(4)]
    cookies = [dma_cookie_assign(tx) for tx in txs]
    assert cookies == [DMA_MIN_COOKIE + 1 + n for n in range(4)]
    assert dma_cookie_outstanding(chan)
    failure = DmaengineResult(DmaTransResult.WRITE_FAILED, 64)
    dma_cookie_complete(txs[3], NOERROR)         # out of order: the last one first
    dma_cookie_complete(txs[1], failure)
    statuses = [dma_cookie_status(chan, cookie)[0] for cookie in cookies]
    assert statuses == [DmaStatus.IN_PROGRESS, DmaStatus.ERROR, DmaStatus.IN_PROGRESS,
                        DmaStatus.COMPLETE]
    assert dma_cookie_status(chan, cookies[1]) == (DmaStatus.ERROR, failure)
    assert chan.completed_cookie == DMA_MIN_COOKIE
    dma_cookie_complete(txs[0], NOERROR)
    dma_cookie_complete(txs[2], NOERROR)
    assert chan.completed_cookie == cookies[-1] and not dma_cookie_outstanding(chan)
    assert dma_cookie_status(chan, cookies[1])[0] is DmaStatus.ERROR
    with pytest.raises(DmaEngineError, match="completed twice"):
        dma_cookie_complete(txs[2], NOERROR)
    with pytest.raises(ValueError, match="never assigned"):
        dma_cookie_status(chan, cookies[-1] + 1)


def test_wait_for_completion_runs_the_irq_handlers_and_times_out():
    port = FakePort()
    done = Completion(port)
    calls = []

    async def handler():
        calls.append(port.t)
        if len(calls) == 2:
            done.complete()
    request_irq(port, handler)
    port.irq_pending = 1

    async def scenario():
        first = await done.wait_for_completion_timeout(1000)     # one irq, not done
        port.irq_pending = 1
        second = await done.wait_for_completion_timeout(1000)
        return first, second
    first, second = asyncio.run(scenario())
    assert first == 0 and len(calls) == 2 and 0 < second <= 1000
    assert port.ops[Op.WAKEUP] == 1


def test_dma_sync_wait_times_out_with_dma_error():
    port = FakePort()
    device = ReverseDevice(port)

    async def scenario():
        chan = await dma_request_chan(device)
        tx = await dmaengine_prep_dma_memcpy(chan, 0, 0, 64, 0)
        cookie = await dmaengine_submit(tx)
        return await dma_sync_wait(chan, cookie, timeout_ns=5000)
    assert asyncio.run(scenario()) is DmaStatus.ERROR
    assert port.t >= 5000
