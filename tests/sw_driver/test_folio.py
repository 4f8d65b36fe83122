"""Folios (sw_driver/folio.py): a power-of-two number of pages, page aligned."""
import numpy as np
import pytest

from sw_driver.folio import PAGE_SIZE, Folio


def test_folio_checks():
    with pytest.raises(ValueError, match="power-of-two"):
        Folio(0, 3 * PAGE_SIZE)
    with pytest.raises(ValueError, match="page aligned"):
        Folio(100, PAGE_SIZE)
    with pytest.raises(ValueError, match="power-of-two"):
        Folio(0, 4096.0)
    assert Folio(0, np.int64(2 * PAGE_SIZE)).size == 2 * PAGE_SIZE      # any integer type
