"""The migration core's copy offload, as the later postings make it kernel
infrastructure (``struct migrator`` and ``migrate_copy_offload`` of
mm/migrate_copy_offload.c), apart from any driver.

A :class:`Migrator` has a name, a can_migrate(dst, src) check and a batch copy
callback. :func:`start_offloading` / :func:`stop_offloading` swap one in and out
(the kernel's static call); with none registered the CPU copies.
:func:`migrate_folios_content` is the batch copy the migration core runs: the
registered migrator first, then the CPU's copy_mc for every folio whose content it
did not copy. It is the one offload-then-fallback step: the migration core
(``sim/kernel/core.py``) and the driver benchmark both call it.
"""
import abc
from dataclasses import dataclass

from .folios_copy import check_folio_lists, folio_copy


class Migrator(abc.ABC):
    """A batch copy offload the migration core can use (struct migrator)."""

    name = "migrator"

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


async def migrate_copy_offload(dst_list, src_list):
    """Per folio, whether the registered migrator copied its content (all False with
    none registered, False where it refused)."""
    check_folio_lists(dst_list, src_list)
    copied = [False] * len(src_list)
    migrator = _migrator
    if migrator is None:
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


async def migrate_folios_content(port, dst_list, src_list, fallback=folio_copy):
    """The batch copy: the offload, then ``fallback(port, dst, src)`` (the CPU's
    copy_mc of one folio, which says whether it copied) for each folio the offload
    did not copy."""
    offloaded = await migrate_copy_offload(dst_list, src_list)
    copied = [done or await fallback(port, dst, src)
              for dst, src, done in zip(dst_list, src_list, offloaded)]
    return BatchCopy(offloaded, copied)
