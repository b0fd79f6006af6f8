"""regimen: evaluate cancer drug dosing schedules against drug-tolerant persister dynamics.

    import regimen
    s = regimen.Scenario.from_yaml("scenarios/persister-nsclc.yaml")
    c = s.compare(rollouts=1000, seed=1)
    print(c)                          # the tables `regimen compare` prints
    c.summary.to_pandas()             # summary.csv as a DataFrame
    s2 = s.with_params({"model.compartments.primed.initial": 1e9})

Runs release the GIL; Ctrl-C (KeyboardInterrupt) stops a run at its next safe point. The
same seed gives the same numbers on any number of threads. Errors raise
:class:`RegimenError` (or :class:`InvalidScenario`, :class:`LimitError`) with the message
the command line prints.
"""

from __future__ import annotations

import os

from . import _regimen
from ._regimen import InvalidScenario, LimitError, RegimenError
from ._table import Table

__version__ = _regimen.__version__
__all__ = [
    "Scenario",
    "Simulation",
    "Comparison",
    "Optimisation",
    "Fit",
    "Calibration",
    "Table",
    "RegimenError",
    "InvalidScenario",
    "LimitError",
]


class Scenario:
    """A validated scenario: model, drugs, arms, endpoint."""

    def __init__(self, native):
        self._native = native

    @classmethod
    def from_yaml(cls, text_or_path):
        """A scenario from a file path (str or os.PathLike naming an existing file) or from
        YAML text. Text takes its named schedules from regimen's built-in library."""
        if isinstance(text_or_path, os.PathLike) or (
            isinstance(text_or_path, str)
            and "\n" not in text_or_path
            and os.path.isfile(text_or_path)
        ):
            return cls(_regimen.Scenario.load(os.fspath(text_or_path)))
        if isinstance(text_or_path, str) and "\n" not in text_or_path and text_or_path.endswith(
            (".yaml", ".yml")
        ):
            raise FileNotFoundError(f"no scenario file {text_or_path!r}")
        return cls(_regimen.Scenario.from_text(text_or_path))

    name = property(lambda self: self._native.name, doc="The scenario's name.")
    source = property(lambda self: self._native.source, doc="The file it was read from.")
    arms = property(lambda self: self._native.arms, doc="Arm names, in order.")
    drugs = property(lambda self: self._native.drugs, doc="Drug names, in order.")
    compartments = property(lambda self: self._native.compartments, doc="Cell compartments.")
    horizon = property(lambda self: self._native.horizon, doc="Horizon, in time units.")
    time_units = property(lambda self: self._native.time_units, doc="days, weeks or hours.")
    sha256 = property(lambda self: self._native.sha256, doc="Hash of the resolved scenario.")

    def check(self):
        """The resolved scenario as YAML, every default filled in (what `regimen check`
        prints). A scenario that exists has validated, so this never raises."""
        return self._native.resolved_yaml()

    def with_params(self, params):
        """This scenario with fields changed by dotted path, validated again:
        ``s.with_params({"model.compartments.resistant.initial": 1e5})``. List elements are
        named by index or by their ``name`` (``"arms.adaptive-50.schedule..."``). A
        parameter drawn per patient is set through its distribution
        (``"virtual_patients.compartments.resistant.initial.lognormal.median"``): the
        compartment's own value then only moves the deterministic run."""
        return Scenario(self._native.with_params(list(dict(params).items())))

    def simulate(self, arm=None, record_every=1.0, noise_seed=None):
        """The deterministic (mean-field ODE) run of every arm, or of one."""
        return Simulation(self._native.simulate(arm, record_every, noise_seed))

    def compare(
        self,
        rollouts=1000,
        seed=1,
        reference=None,
        arms=None,
        trajectories=0,
        record_every=7.0,
        threads=None,
    ):
        """Every arm (or ``arms``) on the same stochastic rollouts, contrasted with the
        reference arm (the first by default), as `regimen compare` does."""
        return Comparison(
            self._native.compare(
                rollouts, seed, reference, arms, trajectories, record_every, threads
            )
        )

    def optimise(
        self,
        seed=1,
        objective=None,
        rollouts=None,
        holdout=None,
        budget_evals=None,
        families=None,
        solver=None,
        racing=None,
        max_relative_dose=None,
        pareto=None,
        time_limit=None,
        threads=None,
        sensitivity=None,
    ):
        """Search schedule families for the best schedule, as `regimen optimise` does; the
        scenario's ``optimise:`` block gives every setting left as None (``sensitivity=False``
        leaves out the sensitivity report, as ``--no-sensitivity`` does)."""
        return Optimisation(
            self._native.optimise(
                seed,
                objective,
                rollouts,
                holdout,
                budget_evals,
                families,
                solver,
                racing,
                max_relative_dose,
                pareto,
                time_limit,
                threads,
                sensitivity,
            )
        )

    def fit(
        self,
        data=None,
        until=None,
        cycles=None,
        starts=None,
        error=None,
        free=None,
        profiles=None,
        threads=None,
    ):
        """Fit the model to observed data (a NONMEM-layout CSV), each subject by maximum
        likelihood under the doses it received, as `regimen fit` does; the scenario's
        ``fit:`` block gives every setting left as None. ``free``: a list of
        (path, lower, upper) replacing the block's free parameters."""
        return Fit(
            self._native.fit(
                None if data is None else os.fspath(data),
                until,
                cycles,
                starts,
                error,
                free,
                profiles,
                threads,
            )
        )

    def calibrate(self, rollouts=None, budget=None, seed=None, threads=None):
        """Calibrate the population to the published trial statistics of the scenario's
        ``fit.targets`` block, as `regimen fit --targets` does (docs/fitting.md §12)."""
        return Calibration(self._native.calibrate(rollouts, budget, seed, threads))

    def __repr__(self):
        return repr(self._native)


class _Result:
    _tables = ()

    def __init__(self, native):
        self._native = native

    def table(self, name):
        """One of the result's tables (see ``tables``)."""
        return Table(self._native.frame(name))

    @property
    def tables(self):
        """The names of the result's tables."""
        return list(self._tables)

    def write(self, directory, plots=True):
        """Writes the result's folder as the command line does (whole or not at all);
        returns the names of the files written."""
        return self._native.write(os.fspath(directory), plots)

    def __str__(self):
        return self._native.text()

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


class Simulation(_Result):
    """Deterministic runs: ``trajectory``, ``visits``, ``outcomes``, ``doses``; for
    model-predictive (``mpc``) arms also ``mpc_filter`` (the particle filter at each visit)
    and ``mpc_decisions`` (what each action was expected to bring, per decision)."""

    _tables = ("trajectory", "visits", "outcomes", "doses")
    trajectory = property(lambda self: self.table("trajectory"))
    visits = property(lambda self: self.table("visits"))
    outcomes = property(lambda self: self.table("outcomes"))
    doses = property(lambda self: self.table("doses"))
    mpc_filter = property(lambda self: self.table("mpc_filter"))
    mpc_decisions = property(lambda self: self.table("mpc_decisions"))


class Comparison(_Result):
    """A comparison: ``summary`` (one row per arm, as summary.csv), ``outcomes`` (one row
    per rollout and arm), ``notes``; with kept trajectories also ``trajectory``, ``visits``
    and ``doses``."""

    _tables = ("summary", "outcomes", "trajectory", "visits", "doses")
    summary = property(lambda self: self.table("summary"))
    outcomes = property(lambda self: self.table("outcomes"))
    notes = property(lambda self: self._native.notes)
    reference = property(lambda self: self._native.reference)

    def summary_csv(self):
        """summary.csv, byte for byte as `regimen compare` writes it."""
        return self._native.summary_csv()

    def summary_json(self):
        """summary.json, byte for byte as `regimen compare` writes it."""
        return self._native.summary_json()


class Optimisation(_Result):
    """An optimisation: ``leaderboard``, ``trace``, ``pareto``, ``sensitivity`` (the
    tornado, cliff and map scores), ``robust`` (with an ``optimise.robust`` block) and
    ``best_yaml``."""

    _tables = ("leaderboard", "trace", "pareto", "robust", "sensitivity")
    leaderboard = property(lambda self: self.table("leaderboard"))
    trace = property(lambda self: self.table("trace"))
    pareto = property(lambda self: self.table("pareto"))
    robust = property(lambda self: self.table("robust"))
    sensitivity = property(lambda self: self.table("sensitivity"))

    @property
    def tables(self):
        """The names of the tables this optimisation has (``robust`` only with an
        ``optimise.robust`` block, ``sensitivity`` unless the report was turned off)."""
        names = []
        for name in self._tables:
            try:
                self._native.frame(name)
            except RegimenError:
                continue
            names.append(name)
        return names

    @property
    def best_yaml(self):
        """The best feasible schedule as an arm to paste into the scenario (None if no
        finalist met the constraints)."""
        return self._native.best_yaml()


class Fit(_Result):
    """A fit: ``estimates`` (one row per subject), ``predictions`` (one row per
    measurement), ``forecast``, ``population``, ``curves``, ``dosing``, ``vpc``; each
    subject's scenario with ``subject(id)`` and the population's with ``population``."""

    _tables = ("estimates", "predictions", "forecast", "population", "curves", "dosing", "vpc")
    estimates = property(lambda self: self.table("estimates"))
    predictions = property(lambda self: self.table("predictions"))
    forecast = property(lambda self: self.table("forecast"))
    subjects = property(lambda self: self._native.subjects())

    def subject(self, id):
        """Subject ``id``'s scenario (its estimates, its doses as the arm ``observed``),
        ready to compare or optimise."""
        return Scenario.from_yaml(self._native.subject_yaml(str(id)))

    @property
    def population(self):
        """The population scenario (virtual patients drawn from the estimates)."""
        return Scenario.from_yaml(self._native.population_yaml())


class Calibration(_Result):
    """A calibration to trial summaries: ``targets`` (published against calibrated, per
    statistic), ``parameters`` (estimates and approximate 95 % intervals), ``pfs`` (the
    calibrated arm's PFS curve) and the calibrated ``scenario``."""

    _tables = ("targets", "parameters", "pfs")
    targets = property(lambda self: self.table("targets"))
    parameters = property(lambda self: self.table("parameters"))
    pfs = property(lambda self: self.table("pfs"))

    @property
    def scenario(self):
        """The calibrated scenario (the estimates written in)."""
        return Scenario.from_yaml(self._native.calibrated_yaml())
