"""The migration core's copy offload infrastructure: a migrator registered and removed,
the offload first and the CPU's copy_mc for what it left, whose result is kept."""
import asyncio

import pytest

from sw_driver.folio import PAGE_SIZE
from sw_driver.migrate_offload import (Migrator, migrate_folios_content, should_batch,
                                       start_offloading, stop_offloading)
from tests.sw_driver.fakes import FakePort, batch_of, check_copied


class _HalfMigrator(Migrator):
    """Accepts every other folio and copies the first one it is given."""
    name = "half"

    def __init__(self):
        self.offered = 0

    def can_migrate(self, dst, src):
        self.offered += 1
        return self.offered % 2 == 1

    async def migrate_folios(self, dst_list, src_list):
        return [i == 0 for i in range(len(src_list))]


class _PoisonedPort(FakePort):
    """The CPU's copy_mc machine-checks on the sources in ``poisoned``."""

    def __init__(self, poisoned):
        super().__init__()
        self.poisoned = set(poisoned)

    async def cpu_copy(self, dst, src, nbytes):
        if src in self.poisoned:
            self.ops["cpu_copy"] += 1
            return False
        return await super().cpu_copy(dst, src, nbytes)


def test_the_cpu_copies_what_the_migrator_did_not():
    port = FakePort()
    dst, src = batch_of(port, [PAGE_SIZE] * 4)
    migrator = _HalfMigrator()
    start_offloading(migrator)
    try:
        result = asyncio.run(migrate_folios_content(port, dst, src))
    finally:
        stop_offloading(migrator)
    # Offered folios 0 and 2; it copied the first of them only.
    assert result.offloaded == [True, False, False, False]
    assert result.copied == [True] * 4 and port.ops["cpu_copy"] == 3
    with pytest.raises(ValueError, match="not the registered migrator"):
        stop_offloading(migrator)


def test_a_machine_check_in_the_fallback_leaves_its_folio_not_copied():
    port = _PoisonedPort([PAGE_SIZE])              # the second folio's source
    dst, src = batch_of(port, [PAGE_SIZE] * 3)
    result = asyncio.run(migrate_folios_content(port, dst, src))      # none registered
    assert result.offloaded == [False] * 3 and result.copied == [True, False, True]
    check_copied(port, [dst[0], dst[2]], [src[0], src[2]])


def test_should_batch_offers_a_batch_only_for_the_migrators_reasons():
    port = FakePort()
    dst, src = batch_of(port, [PAGE_SIZE] * 2)
    migrator = _HalfMigrator()
    migrator.reasons = ("demotion", "numa_misplaced")
    assert not should_batch("demotion")                    # none registered
    start_offloading(migrator)
    try:
        assert should_batch("demotion") and not should_batch("syscall")
        moved = asyncio.run(migrate_folios_content(port, dst, src))   # move_pages()
        assert moved.offloaded == [False, False] and migrator.offered == 0
        demoted = asyncio.run(migrate_folios_content(port, dst, src, reason="demotion"))
        assert demoted.offloaded == [True, False]
        with pytest.raises(ValueError, match="migration reason 'tiering'"):
            should_batch("tiering")
    finally:
        stop_offloading(migrator)
    assert moved.copied == demoted.copied == [True, True]
