"""The CPU copy of folio contents: the baseline, and the fallback of every offload path."""


def check_folio_lists(dst_list, src_list):
    """Raise ValueError unless the lists pair up folios of equal size."""
    if len(dst_list) != len(src_list):
        raise ValueError(f"{len(dst_list)} destination folios for {len(src_list)} sources")
    for dst, src in zip(dst_list, src_list):
        if dst.size != src.size:
            raise ValueError(f"destination folio of {dst.size:#x} bytes for a source of "
                             f"{src.size:#x} bytes")


async def folio_copy(port, dst, src):
    """Copy one folio's content with the CPU; False if reading it machine-checked
    (nothing was written: the caller must not count the folio copied)."""
    return await port.cpu_copy(dst.address, src.address, src.size)


async def folios_copy(port, dst_list, src_list):
    """Copy every folio of src_list into its partner in dst_list with the CPU, in order;
    per folio, whether it was copied."""
    check_folio_lists(dst_list, src_list)
    return [await folio_copy(port, dst, src) for dst, src in zip(dst_list, src_list)]
