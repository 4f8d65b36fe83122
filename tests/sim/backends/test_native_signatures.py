"""The ctypes signatures the Python declares match the C functions they call: every
``fd_*`` function of ``platform_api.cpp`` and ``harness.cpp`` is declared, with its
argument and result types (a mismatch would be undefined behaviour, not an error)."""
import ctypes
import re

import pytest

from sim.backends.native.build import NATIVE_DIR
from sim.backends.native.axi_slave import _SIGNATURES
from sim.backends.verilator import _SIM_SIGNATURES

#: The C types of the API as ctypes declares them; any pointer but a string is
#: declared as a pointer of some kind (void *, an array, POINTER(...)): the same to C.
POINTER = "a pointer"
C_TYPES = {"void": None, "int": ctypes.c_int, "int64_t": ctypes.c_int64,
           "uint64_t": ctypes.c_uint64, "uint32_t": ctypes.c_uint32,
           "char*": ctypes.c_char_p}


def _c_type(declaration):
    """The ctypes type (or POINTER) of a C parameter or result, "int64_t *out"."""
    kind = re.sub(r"\bconst\b|\b[a-z_]\w*$", "", declaration.strip()).replace(" ", "")
    if kind in C_TYPES:
        return C_TYPES[kind]
    assert kind.endswith("*"), f"no ctypes type for {declaration!r}"
    return POINTER


def c_functions(path):
    """{name: ([argument types], result type)} of the fd_* functions defined in path."""
    functions = {}
    for match in re.finditer(r"^([\w ]+?\s*\*?)\s*(fd_\w+)\(([^)]*)\)\s*\{",
                             path.read_text(), re.M):
        result, name, arguments = match.groups()
        args = [a for a in (part.strip() for part in arguments.split(",")) if a]
        functions[name] = ([_c_type(a) for a in args], _c_type(result + " result"))
    return functions


def _declared(signatures):
    """The same form from a signature table."""
    def kind(t):
        if t is ctypes.c_void_p or (isinstance(t, type) and issubclass(t, ctypes._Pointer)):
            return POINTER
        return t
    return {name: ([kind(a) for a in args], kind(result))
            for name, (args, result) in signatures.items()}


@pytest.mark.parametrize("source, signatures", [
    ("platform_api.cpp", _SIGNATURES), ("harness.cpp", _SIM_SIGNATURES)])
def test_every_native_function_is_declared_as_its_c_definition(source, signatures):
    defined = c_functions(NATIVE_DIR / source)
    assert len(defined) >= 10
    assert _declared(signatures) == defined
