"""The migration core's copy offload, as the later postings make it kernel
infrastructure (``struct migrator`` and ``migrate_copy_offload`` of
mm/migrate_copy_offload.c), apart from any driver.

A :class:`Migrator` has a name, a can_migrate(dst, src) check, a batch copy
callback and the migration reasons whose batches it takes (dcbm's ``reason_mask``).
:func:`start_offloading` / :func:`stop_offloading` swap one in and out (the kernel's
static call); with none registered the CPU copies. :func:`should_batch` says whether
a batch migrated for a reason (``enum migrate_reason``) is offered to it.
:func:`migrate_folios_content` is the batch copy the migration core runs: the
registered migrator first, then the CPU's copy_mc for every folio whose content it
did not copy. It is the one offload-then-fallback step: the migration core
(``sim/kernel/core.py``) and the driver benchmark both call it.
"""
import abc
from dataclasses import dataclass

from .folios_copy import check_folio_lists, folio_copy

#: enum migrate_reason (include/linux/migrate_mode.h), lower case without MR_.
MIGRATE_REASONS = ("compaction", "memory_failure", "memory_hotplug", "syscall",
                   "mempolicy_mbind", "numa_misplaced", "contig_range", "longterm_pin",
                   "demotion", "damon")
#: MR_SYSCALL: move_pages() and migrate_pages(), as the series' experiments migrate.
MR_SYSCALL = "syscall"


def check_reasons(reasons):
    """``reasons`` as a tuple of :data:`MIGRATE_REASONS` names (None stays None: every
    reason); ValueError names one that is not."""
    if reasons is None:
        return None
    unknown = [r for r in reasons if r not in MIGRATE_REASONS]
    if isinstance(reasons, str) or unknown or not reasons:
        raise ValueError(f"migration reasons {reasons!r}: expected a non-empty list of "
                         f"{', '.join(MIGRATE_REASONS)}")
    return tuple(reasons)


class Migrator(abc.ABC):
    """A batch copy offload the migration core can use (struct migrator)."""

    name = "migrator"
    #: The migration reasons whose batches it takes; None: every reason.
    reasons = None

    @abc.abstractmethod
    def can_migrate(self, dst, src):
        """Whether the content of folio src may be offloaded into dst."""

    @abc.abstractmethod
    async def migrate_folios(self, dst_list, src_list):
        """Copy the batch; per folio, whether its content was copied."""


_migrator = None


def start_offloading(migrator):
    """Make migrator the batch copy offload (replacing any other)."""
    global _migrator
    _migrator = migrator


def stop_offloading(migrator):
    """Remove migrator; the CPU copies again."""
    global _migrator
    if _migrator is not migrator:
        raise ValueError(f"stop_offloading: {migrator.name} is not the registered migrator")
    _migrator = None


def should_batch(reason):
    """Whether a batch migrated for ``reason`` goes to the registered migrator: one is
    registered and takes that reason."""
    if reason not in MIGRATE_REASONS:
        raise ValueError(f"migration reason {reason!r}: expected one of "
                         f"{', '.join(MIGRATE_REASONS)}")
    return _migrator is not None and (_migrator.reasons is None or reason in _migrator.reasons)


async def migrate_copy_offload(dst_list, src_list, reason=MR_SYSCALL):
    """Per folio, whether the registered migrator copied its content (all False with
    none registered or when it does not take ``reason``, False where it refused)."""
    check_folio_lists(dst_list, src_list)
    copied = [False] * len(src_list)
    migrator = _migrator
    if not should_batch(reason):
        return copied
    picked = [i for i, (dst, src) in enumerate(zip(dst_list, src_list))
              if migrator.can_migrate(dst, src)]
    if picked:
        results = await migrator.migrate_folios([dst_list[i] for i in picked],
                                                [src_list[i] for i in picked])
        for i, ok in zip(picked, results, strict=True):
            copied[i] = ok
    return copied


@dataclass(frozen=True)
class BatchCopy:
    """Per folio of a batch: whether the offload copied it (``offloaded``), and
    whether its content reached the destination at all, by the offload or by the
    CPU's copy_mc (``copied``; False: the source machine-checked)."""
    offloaded: list
    copied: list


async def migrate_folios_content(port, dst_list, src_list, fallback=folio_copy,
                                 reason=MR_SYSCALL):
    """The batch copy of a batch migrated for ``reason``: the offload, then
    ``fallback(port, dst, src)`` (the CPU's copy_mc of one folio, which says whether it
    copied) for each folio the offload did not copy."""
    offloaded = await migrate_copy_offload(dst_list, src_list, reason)
    copied = [done or await fallback(port, dst, src)
              for dst, src, done in zip(dst_list, src_list, offloaded)]
    return BatchCopy(offloaded, copied)
