class UserError(Exception):
    """The input was at fault (unknown model, bad option): the controller exits 2 with this message."""


# What the libraries raise when an allocation fails under an address-space limit (prlimit --as, the
# launcher's memory_limit_bytes): oneDNN cannot create its primitive, PyTorch's allocator or C++ new
# fail. Not a MemoryError, so they would read as a library bug rather than "out of memory".
OOM_MESSAGES = ("could not create a primitive", "can't allocate memory", "std::bad_alloc", "out of memory")


def address_space_limit() -> int | None:
    """The process's RLIMIT_AS in bytes, None when unlimited."""
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def is_out_of_memory(exc: BaseException, limit: int | None = None) -> bool:
    """A MemoryError, or a library's allocation failure while an address-space limit is set."""
    if isinstance(exc, MemoryError):
        return True
    limit = address_space_limit() if limit is None else limit
    return bool(limit) and any(m in str(exc) for m in OOM_MESSAGES)
