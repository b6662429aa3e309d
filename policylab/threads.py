"""The numeric libraries' thread pools during a run: one BLAS thread.

numpy and scipy each bring an OpenBLAS (or MKL) that starts a thread per core. The matrices
policylab factors and multiplies are small (hundreds of clusters, cells or event times), so
threads gain nothing there and cost twice:

- on a busy machine OpenBLAS's threads spin while they wait: the example's few-cluster
  bootstrap spent 0.05 s in its SVDs on one thread and 2.6 to 24 s on two, with a load of 2 to
  3 on two cores;
- the thread count moves last digits (HonestDiD's intervals in ``results.json``), so one thread
  gives the same bits on machines with different numbers of cores.

Uses ``threadpoolctl``, which finds every BLAS the process has loaded; the previous limits
come back on exit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager


def one_blas_thread() -> AbstractContextManager:
    """A context in which every loaded BLAS runs one thread."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
