"""Co-design at scale: a design space of engines, devices, clocks, drivers and
platforms, evaluated on Dask, answered as fronts, crossovers and sensitivities.

:func:`explore` runs one exploration: the space (:mod:`sim.explore.space`), its
points chosen by a grid or a budgeted search (:mod:`sim.explore.search`), each
evaluated through the result cache (:mod:`sim.explore.cache`) on a pool of
workers (:mod:`sim.explore.pool`) by :class:`sim.explore.explorer.Explorer`, and
the answers (:mod:`sim.explore.analysis`, :mod:`sim.explore.report`).
"""
import dataclasses
from pathlib import Path


def configured(space, *, method=None, budget=None, screen=None, backend=None):
    """``space`` (a Space, a file or a built-in name) with its search and back-end
    changed where given; SpaceError names a bad combination."""
    from sim.explore.space import SpaceError, load_space
    space = space if hasattr(space, "axes") else load_space(space)
    changes = {key: value for key, value in (("method", method), ("budget", budget),
                                             ("screen", screen)) if value is not None}
    space = dataclasses.replace(space, search=dataclasses.replace(space.search, **changes),
                                **({"backend": backend} if backend else {}))
    if space.search.method == "nsga2" and not space.search.budget:
        raise SpaceError("the nsga2 search needs a budget of evaluations")
    return space


def resolved_backend(space):
    """(the back-end the space's evaluations run on, why not verilator or None): its
    ``backend``, with ``auto`` resolved here, once, so that its results are cached
    under the back-end they ran on: verilator if its tools (Verilator, a C++
    compiler) are here, else pysim. Each worker builds the engines it simulates, or
    takes them from the build cache; a build that fails fails its points."""
    from sim.backends import AUTO_BACKEND
    from sim.backends.verilator import VerilatorNotFoundError, require_verilator
    if space.backend != AUTO_BACKEND:
        return space.backend, None
    try:
        require_verilator()
    except VerilatorNotFoundError as error:
        return "pysim", str(error).splitlines()[0]
    return "verilator", None


def explore(space, *, workers=None, scheduler=None, cache_dir=None, objectives=None,
            progress=True, announce=None, **search):
    """Explore ``space`` (see :func:`configured` for ``search``'s method, budget, screen
    and backend): its :class:`sim.explore.report.Answers` (``.frame`` the rows, the
    front marked; ``.crossovers``; ``.sensitivity``; ``.explorer`` what ran them).
    ``workers``: the local Dask cluster's size (0: in this process); ``scheduler``: an
    existing cluster's address; ``cache_dir``: the result cache (default
    :func:`sim.explore.cache.default_cache_dir`); ``announce``: called with where the
    evaluations run, once the first needs a worker. PoolError: the cluster cannot be
    started or reached."""
    from sim.explore.cache import ResultCache, default_cache_dir
    from sim.explore.explorer import Explorer
    from sim.explore.pool import make_pool
    from sim.explore.report import Answers
    from sim.explore.search import explore_space
    space = configured(space, **search)
    backend, why = resolved_backend(space)
    if why:
        import warnings
        warnings.warn(f"running on pysim: the compiled back-end is not available here ({why})",
                      stacklevel=2)
    space = configured(space, backend=backend)
    objectives = space.objectives(objectives)
    cache_dir = Path(cache_dir or default_cache_dir())
    pool = make_pool(scheduler, workers, on_start=announce)
    explorer = Explorer(space, ResultCache(cache_dir), pool, cache_dir / "area",
                        progress=progress)
    try:
        exploration = explore_space(space, explorer, objectives=objectives)
    finally:
        pool.close()
    answers = Answers(exploration, objectives=objectives)
    answers.explorer = explorer
    return answers
