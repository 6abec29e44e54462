"""FAISS, imported with an OpenMP configuration suited to single queries.

GNU OpenMP threads spin after a parallel region (``OMP_WAIT_POLICY=active`` by default on many
builds), so a server answering one query at a time would burn a core per OpenMP thread between
queries. The policy is read once, when the OpenMP runtime starts, so it is set here before faiss
is first imported, unless the operator chose one. The index parallelises a query itself, over
shards in its own threads, and each of those threads runs faiss single-threaded
(:func:`single_threaded`).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss


def single_threaded() -> None:
    """Make faiss calls from the calling thread use one OpenMP thread.

    ``omp_set_num_threads`` sets the calling thread's OpenMP setting, so each worker thread of the
    index calls this once when it starts.
    """
    faiss.omp_set_num_threads(1)


__all__ = ["faiss", "single_threaded"]
