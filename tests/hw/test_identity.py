"""ID, VERSION and capability registers report the build, on every simulator."""
import pytest

from hw.engine import DmaEngine
from hw.params import EngineParams
from sim.backends import BACKENDS, get_runner
from sim.memsys.address_map import MEM_BASE


@pytest.mark.parametrize("backend", BACKENDS)
def test_capabilities_report_build_parameters(backend):
    run = get_runner(backend)
    params = EngineParams(data_width=128, channels=3, max_burst=32, outstanding_reads=5,
                          outstanding_writes=6, buffer_depth=256, prefetch_depth=2)
    result = run(DmaEngine(params), "sim.experiments.engine_scenarios:read_identity", {},
                 memory_config={"base": MEM_BASE, "size": 4096})
    assert result["id"] == 0x46444D41       # "FDMA"
    assert result["version"] == 0x0002      # 0.2: BUS_STATUS added to 0.1
    assert result == {
        "id": result["id"], "version": result["version"],
        "beat_bytes_log2": 4, "channels": 3, "max_burst": 32,
        "outstanding_reads": 5, "outstanding_writes": 6, "prefetch_depth": 2,
        "buffer_depth": 256,
    }
