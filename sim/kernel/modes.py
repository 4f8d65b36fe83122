"""What a migration is described by, besides its folios: the copy modes and the flows
of the migration core, the nodes, and the categories of simulated time.
"""
from sim.memsys.memory_system import CXL_MEMORY, LOCAL_DRAM, REMOTE_DRAM
from sim.seed import MODES as SEED_MODES

#: The seed's three modes.
MODES = SEED_MODES


#: Every copy mode: the seed's three (what migrate runs by default); mt-cpu, the
#: batch copy on kernel worker threads (sim/kernel/mtcopy.py); and dma+mt-cpu, a batch
#: split between the DMA channels and worker threads that copy at once, sharing the
#: memory system.
COPY_MODES = MODES + ("mt-cpu", "dma+mt-cpu")

#: The modes that run the engines (on an RTL back-end), and those with worker threads.
ENGINE_MODES = ("dma", "dma+mt-cpu")
THREAD_MODES = ("mt-cpu", "dma+mt-cpu")


FLOWS = ("upstream", "batched", "early-copy")


DEFAULT_FLOW = {"cpu": "upstream", "batch-cpu": "batched", "dma": "batched",
                "mt-cpu": "batched", "dma+mt-cpu": "batched"}


#: Categories of simulated time (ns); the noise acts per category.
CATEGORIES = ("core", "cold", "copy", "driver", "wait")


#: What a port's time snapshot tallies: the categories; "sleep", the part of "wait"
#: the migrating thread sleeps (in wait_for_completion, until the device's interrupt
#: or its mt-cpu workers' wake-up), off the CPU; "copy_sleep", the part of "copy" it
#: sleeps while mt-cpu workers copy; "helper_cpu", the CPU time those workers use on
#: other CPUs (no elapsed time of the call). None is a category of its own: their noise
#: is the wait's and the copy's.
TALLIES = CATEGORIES + ("sleep", "copy_sleep", "helper_cpu")


#: Nodes: 0 the migrating CPU's, 1 the other socket, 2 the CXL tier (sim.memsys.memory_system).
NODES = tuple(node.node_id for node in (LOCAL_DRAM, REMOTE_DRAM, CXL_MEMORY))
