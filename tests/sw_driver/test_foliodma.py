"""The provider driver (sw_driver/foliodma.py) without the RTL: result mapping, and its
errors on a fake register file."""
import asyncio

import pytest

from hw.descriptor import Status
from hw.regmap import load_regmap
from sw_driver.dmaengine import DmaTransResult
from sw_driver.foliodma import RESULT_OF_STATUS, FoliodmaCaps, FoliodmaDevice, FoliodmaError
from tests.sw_driver.fakes import RegisterPort


def test_every_failure_code_maps_to_a_result():
    failures = set(Status) - {Status.NOT_DONE, Status.SUCCESS}
    assert set(RESULT_OF_STATUS) == failures
    assert RESULT_OF_STATUS[Status.READ_DECERR] is DmaTransResult.READ_FAILED
    assert RESULT_OF_STATUS[Status.WRITE_SLVERR] is DmaTransResult.WRITE_FAILED
    assert RESULT_OF_STATUS[Status.ABORTED] is DmaTransResult.ABORTED


@pytest.mark.parametrize("bus_status, said", [
    (0, None), (0b01, "(unexpected_r)"), (0b11, "(unexpected_r, unexpected_b)")])
def test_a_channel_timeout_says_what_bus_status_reports(bus_status, said):
    regmap = load_regmap()
    busy = regmap.register("chan[0].status").fields["busy"].insert(0, 1)
    port = RegisterPort({regmap.address("chan[0].status"): busy,
                         regmap.address("bus_status"): bus_status})
    caps = FoliodmaCaps(version=(0, 2), beat_bytes=32, channels=1, max_burst=128,
                        outstanding_reads=4, outstanding_writes=4, prefetch_depth=2,
                        buffer_depth=512)
    dev = FoliodmaDevice(port, regmap, caps, 16, channel_timeout_ns=100)
    with pytest.raises(FoliodmaError, match="channel 0: not idle after abort") as error:
        asyncio.run(dev.device_synchronize(dev.channels[0]))
    message = str(error.value)
    assert ("dropped responses it was not owed" in message) == (said is not None)
    assert said is None or message.endswith(said)
