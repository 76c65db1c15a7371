"""The validation workers' wire: frames over a pipe, and the progress slot beside it.

A frame is a 4-byte big-endian length, then a pickle. Both ends are this code base (the
ingress and ``gateway.ingress.validation_worker``): the pickles never come from a sender.
Each end reads whatever the pipe holds at once and splits it into frames with
``FrameReader``, so a worker that answers several requests in one write costs the ingress
one read, not two per verdict.

A worker writes its verdicts in groups, so the ingress cannot tell from the verdicts alone
which document a worker was on when it died or got stuck (the crash blame needs it): a
worker also stores the id of each request it finished in a ``Progress`` slot, a memory map
shared with the ingress. Requests reach a worker in id order and it judges them in that
order, so the one it is on is the oldest pending request after that id. The store is a
write to memory: no system call per request, and it stays readable after the worker died.
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
import tempfile
from typing import Any

HEADER = struct.Struct(">I")
_SLOT = struct.Struct("=q")


def frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def unframe(body: bytes | memoryview) -> Any:
    """A frame's object, from the bytes after its length (both ends are this code base)."""
    return pickle.loads(body)  # noqa: S301 - written by the peer process, our own code


class FrameReader:
    """Splits a stream read in arbitrary pieces into the objects of its frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """The objects of every frame completed by ``data``, in order; a partial frame at
        the end waits for the next piece."""
        buffer = self._buffer
        buffer += data
        objects: list[Any] = []
        start, end = 0, len(buffer)
        with memoryview(buffer) as view:
            while end - start >= HEADER.size:
                (size,) = HEADER.unpack_from(buffer, start)
                body_end = start + HEADER.size + size
                if body_end > end:
                    break
                objects.append(unframe(view[start + HEADER.size : body_end]))
                start = body_end
        if start:
            del buffer[:start]  # after the view is released: a bytearray cannot resize under one
        return objects

    @property
    def partial(self) -> bool:
        """Whether bytes of an unfinished frame are waiting."""
        return bool(self._buffer)


class Progress:
    """The id of the last request a worker finished, in memory both processes map."""

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, _SLOT.size)

    @classmethod
    def create(cls) -> tuple[Progress, int]:
        """A fresh slot (0: nothing finished) and the descriptor to hand the worker; the
        caller closes the descriptor once the worker has it."""
        fd, path = tempfile.mkstemp(prefix="kpgw-validator-")
        os.unlink(path)  # nothing on disk outlives the two processes
        os.ftruncate(fd, _SLOT.size)
        return cls(fd), fd

    def finished(self, request_id: int) -> None:
        _SLOT.pack_into(self._map, 0, request_id)

    def last_finished(self) -> int:
        return int(_SLOT.unpack_from(self._map, 0)[0])

    def close(self) -> None:
        self._map.close()
