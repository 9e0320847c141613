"""L-BFGS-B runs in lockstep: the k barycenter updates of one k-means iteration advance together,
so that every function evaluation is one batched soft-DTW over the series of all clusters
(:class:`agcc.softdtw.kmeans.SoftDTWKMeans`).

tslearn runs one ``scipy.optimize.minimize(method="L-BFGS-B")`` per barycenter. Here the same k
optimisations are driven through scipy's reverse-communication step ``setulb`` (:func:`_scipy_setulb`,
checked once per process against ``minimize``, since the private signature changed when scipy moved
L-BFGS-B from Fortran to C), or, where that check fails, with one ``minimize`` per thread
(:func:`_lockstep_threads`). Both give ``minimize``'s iterates exactly (``tests/test_softdtw.py``).
"""
from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

@lru_cache(maxsize=1)
def _scipy_setulb():
    """scipy's L-BFGS-B step function (``scipy.optimize._lbfgsb.setulb``, reverse communication),
    or None if this scipy's cannot be driven like ``scipy.optimize.minimize`` drives it.

    It is a private function whose signature changed when L-BFGS-B was translated from Fortran to
    C, so it is checked once per process rather than trusted by version: :func:`_lbfgsb_steps`
    must reach exactly ``minimize``'s solution on a small problem. Written against scipy 1.17.
    """
    try:
        from scipy.optimize import _lbfgsb, minimize

        scales, shift = np.linspace(0.5, 4.0, 6), np.linspace(-1.0, 1.0, 6)

        def f(x):  # smooth, not quadratic: a few iterations and line searches
            r = x - shift
            return float(np.sum(scales * r ** 2 + np.cos(3 * r))), 2 * scales * r - 3 * np.sin(3 * r)

        def evaluate(ids, xs):
            out = [f(x) for x in xs]
            return [v for v, _ in out], [g for _, g in out]

        ours = _lockstep_setulb(_lbfgsb.setulb, evaluate, [np.zeros(6)], tol=1e-6, maxiter=20)[0]
        theirs = minimize(f, np.zeros(6), method="L-BFGS-B", jac=True, tol=1e-6, options=dict(maxiter=20)).x
        return _lbfgsb.setulb if np.array_equal(ours, theirs) else None
    except Exception:  # noqa: BLE001 - any failure means: use the threads
        return None


def _lbfgsb_steps(setulb, x0: np.ndarray, tol: float, maxiter: int, maxcor: int = 10,
                  maxls: int = 20, maxfun: int = 15000):
    """One ``scipy.optimize.minimize(fun, x0, method="L-BFGS-B", jac=True, tol=tol,
    options=dict(maxiter=maxiter))`` run without bounds, as a generator: it yields each point
    where it needs the function, receives ``(value, gradient)`` there, and returns the solution.

    The loop is scipy's own driver (``scipy.optimize._lbfgsb_py._minimize_lbfgsb``, scipy 1.17):
    ``tol`` sets both ftol and gtol, the function is evaluated once at x0 first, a point equal to
    the last one evaluated is not evaluated again (``ScalarFunction``'s cache), and the
    iteration and evaluation limits are checked at each new iteration.
    """
    n = x0.size
    x = np.array(x0, dtype=np.float64)
    bounds = np.zeros(n, np.int32), np.zeros(n), np.zeros(n)  # nbd = 0: unbounded
    wa = np.zeros(2 * maxcor * n + 5 * n + 11 * maxcor * maxcor + 8 * maxcor)
    iwa = np.zeros(3 * n, np.int32)
    task, ln_task = np.zeros(2, np.int32), np.zeros(2, np.int32)
    lsave, isave, dsave = np.zeros(4, np.int32), np.zeros(44, np.int32), np.zeros(29)
    factr = tol / np.finfo(float).eps
    last = x.copy()
    value, grad = yield last.copy()
    f, g, nfev, iterations = value, grad, 1, 0
    while True:
        g = np.asarray(g, dtype=np.float64)
        setulb(maxcor, x, bounds[1], bounds[2], bounds[0], f, g, factr, tol, wa, iwa, task,
               lsave, isave, dsave, maxls, ln_task)
        if task[0] == 3:  # f and g wanted at x
            if not np.array_equal(x, last):
                last = x.copy()
                nfev += 1
                value, grad = yield last.copy()
            f, g = value, grad
        elif task[0] == 1:  # a new iteration
            iterations += 1
            if iterations >= maxiter:
                task[:] = 5, 504
            elif nfev > maxfun:
                task[:] = 5, 502
        else:  # converged, stopped or failed: the result is x, as in scipy
            return x


def lockstep_minimize(evaluate, x0s: list[np.ndarray], *, tol: float, maxiter: int,
                      threads: bool | None = None) -> list[np.ndarray]:
    """Minimise n independent smooth functions, one ``scipy.optimize.minimize(method="L-BFGS-B")``
    each, with their evaluations batched.

    Whenever every unfinished run needs a value, ``evaluate(ids, xs)`` computes them all in one
    call and returns ``(values, gradients)`` for the problems ``ids`` at the points ``xs``. The
    iterates are exactly those of n separate runs (tslearn runs one per barycenter, one after
    the other); only the evaluations are shared. Returns the n solutions.

    Where scipy's L-BFGS-B step can be driven directly (:func:`_scipy_setulb`: scipy's C version
    of L-BFGS-B, 1.15 and later), the runs go step by step through its reverse-communication
    interface (:func:`_lbfgsb_steps`). Otherwise (or with ``threads=True``) each
    ``minimize`` runs in its own thread that hands its points to this one
    (:func:`_lockstep_threads`); the thread hand-offs cost about 1.5 ms per batched evaluation
    on 2 cores, some 60 ms of a 0.5 s fit (``benchmarks/bench_softdtw.py``).
    """
    setulb = None if threads else _scipy_setulb()
    if setulb is None:
        if threads is False:
            raise RuntimeError("lockstep_minimize(threads=False): this scipy's L-BFGS-B step cannot be "
                               "driven directly (see agcc.softdtw._scipy_setulb)")
        return _lockstep_threads(evaluate, x0s, tol=tol, maxiter=maxiter)
    return _lockstep_setulb(setulb, evaluate, x0s, tol=tol, maxiter=maxiter)


def _lockstep_setulb(setulb, evaluate, x0s: list[np.ndarray], *, tol: float, maxiter: int) -> list[np.ndarray]:
    """:func:`lockstep_minimize` through scipy's reverse-communication step ``setulb``: one
    :func:`_lbfgsb_steps` generator per problem, advanced together."""
    runs = [_lbfgsb_steps(setulb, np.asarray(x0, dtype=float), tol, maxiter) for x0 in x0s]
    pending = {i: next(run) for i, run in enumerate(runs)}
    solutions: list = [None] * len(x0s)
    while pending:
        ids = sorted(pending)
        values, grads = evaluate(ids, [pending[i] for i in ids])
        pending = {}
        for i, value, grad in zip(ids, values, grads):
            try:
                pending[i] = runs[i].send((value, grad))
            except StopIteration as done:
                solutions[i] = done.value
    return solutions


def _lockstep_threads(evaluate, x0s: list[np.ndarray], *, tol: float, maxiter: int) -> list[np.ndarray]:
    """:func:`lockstep_minimize` with one ``scipy.optimize.minimize`` per thread (any scipy).

    Each minimisation runs in its own thread and hands every point it needs evaluated to this
    (the calling) thread; whenever every unfinished run waits for a value, ``evaluate(ids, xs)``
    computes them all in one call and returns ``(values, gradients)`` for the problems ``ids`` at
    the points ``xs``. The iterates are exactly those of n separate runs (tslearn runs one per
    barycenter, one after the other); only the evaluations are shared. Evaluating in the calling
    thread keeps torch's allocations in one thread (allocations spread over threads left 2x the
    peak memory). Returns the n solutions.
    """

    from scipy.optimize import minimize

    lock = threading.Lock()
    all_waiting = threading.Condition(lock)  # wakes this thread when every unfinished run waits
    ready = [threading.Event() for _ in x0s]  # wakes run i when its value is there
    active, pending, results = set(range(len(x0s))), {}, {}
    solutions: list = [None] * len(x0s)
    errors: list = []

    def function(i: int):
        def f(x: np.ndarray):
            with lock:
                pending[i] = x.copy()
                if len(pending) == len(active):
                    all_waiting.notify()
            ready[i].wait()
            ready[i].clear()
            out = results.pop(i)
            if isinstance(out, BaseException):
                raise out
            return out
        return f

    def run(i: int) -> None:
        try:
            solutions[i] = minimize(function(i), x0s[i], method="L-BFGS-B", jac=True, tol=tol,
                                    options=dict(maxiter=maxiter)).x
        except BaseException as err:
            errors.append(err)
        finally:
            with lock:
                active.discard(i)
                all_waiting.notify()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(x0s))]
    for t in threads:
        t.start()
    with lock:
        while True:
            all_waiting.wait_for(lambda: not active or len(pending) == len(active))
            if not active:
                break
            ids = sorted(pending)
            try:
                values, grads = evaluate(ids, [pending[i] for i in ids])
                results.update({i: (v, g) for i, v, g in zip(ids, values, grads)})
            except BaseException as err:  # every waiting run raises it
                results.update({i: err for i in ids})
            pending.clear()
            for i in ids:
                ready[i].set()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return solutions
