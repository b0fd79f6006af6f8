//! The native half of the `regimen` Python package: the library's API on Python objects.
//! Tables leave as typed columns (f64 bytes, text, flags) that `regimen/_table.py` turns into
//! NumPy arrays without printing numbers; runs release the GIL and stop on Ctrl-C.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use regimen::api::{self, CompareOptions, OptimiseOptions, Silent, SimulateOptions};
use regimen::report::{Column, Frame};
use regimen::search::config::Overrides;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

create_exception!(_regimen, RegimenError, PyException, "An error of regimen.");
create_exception!(
    _regimen,
    InvalidScenario,
    RegimenError,
    "A scenario that does not validate; the message names file, line, column and field."
);
create_exception!(
    _regimen,
    LimitError,
    RegimenError,
    "A request beyond what regimen will run in one call."
);

/// The library's error as a Python exception carrying the same message.
fn to_py(e: regimen::Error) -> PyErr {
    let text = e.to_string();
    match e {
        regimen::Error::Invalid(_) => InvalidScenario::new_err(text),
        regimen::Error::Limit(_) => LimitError::new_err(text),
        _ => RegimenError::new_err(text),
    }
}

/// Runs `job` on a worker thread with the GIL released (on a pool of `threads` threads if
/// given), checking for Ctrl-C meanwhile: a KeyboardInterrupt asks the job to stop at its
/// next safe point and is raised once it has.
fn run_job<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    job: impl FnOnce() -> regimen::Result<T> + Send,
) -> PyResult<T> {
    let pool = match threads {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| RegimenError::new_err(format!("cannot start {n} threads: {e}")))?,
        ),
        None => None,
    };
    regimen::support::stop::clear();
    let pool = &pool;
    let mut signal: Option<PyErr> = None;
    let outcome = std::thread::scope(|s| {
        let handle = s.spawn(move || match pool {
            Some(p) => p.install(job),
            None => job(),
        });
        while !handle.is_finished() {
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
            if signal.is_none()
                && let Err(e) = py.check_signals()
            {
                regimen::support::stop::request();
                signal = Some(e);
            }
        }
        handle.join()
    });
    regimen::support::stop::clear();
    if let Some(e) = signal {
        return Err(e);
    }
    outcome
        .map_err(|_| RegimenError::new_err("the run failed unexpectedly (a panic in regimen)"))?
        .map_err(to_py)
}

/// A frame as a list of (name, kind, data): kind "f8" with little-endian f64 bytes (NaN
/// where empty), "bool" with one byte per row, "str" with a list of strings.
fn frame_to_py<'py>(py: Python<'py>, frame: &Frame) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for (name, column) in frame.names.iter().zip(&frame.columns) {
        let item = match column {
            Column::Number(v) => {
                let bytes: Vec<u8> = v
                    .iter()
                    .flat_map(|x| x.unwrap_or(f64::NAN).to_le_bytes())
                    .collect();
                (name, "f8", PyBytes::new(py, &bytes).into_any())
            }
            Column::Flag(v) => {
                let bytes: Vec<u8> = v.iter().map(|b| u8::from(*b)).collect();
                (name, "bool", PyBytes::new(py, &bytes).into_any())
            }
            Column::Text(v) => (name, "str", PyList::new(py, v)?.into_any()),
        };
        out.append(PyTuple::new(
            py,
            [
                item.0.into_pyobject(py)?.into_any(),
                item.1.into_pyobject(py)?.into_any(),
                item.2,
            ],
        )?)?;
    }
    Ok(out)
}

/// Writes a result into `dir` (staged and swapped in whole), with plots if asked; returns
/// the names of the files written.
fn write_folder<S: Into<String>>(
    dir: &Path,
    inputs: &[&Path],
    plots: bool,
    write: impl FnOnce(&Path) -> regimen::Result<Vec<S>>,
) -> regimen::Result<Vec<String>> {
    regimen::report::outdir::prepare(dir, inputs)?;
    let staged = regimen::report::outdir::Staged::begin(dir)?;
    let mut written: Vec<String> = write(staged.path())?.into_iter().map(Into::into).collect();
    if plots {
        let names = regimen::plot::render_folder(staged.path(), None, true)?;
        written.extend(names.into_iter().map(|n| format!("plots/{n}")));
    }
    staged.commit()?;
    Ok(written)
}

/// A compiled scenario.
#[pyclass(frozen, module = "regimen._regimen")]
struct Scenario {
    inner: Arc<regimen::Scenario>,
}

#[pymethods]
impl Scenario {
    /// Reads and validates the scenario file at `path`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Scenario> {
        let inner = py
            .detach(|| regimen::Scenario::load(&path))
            .map_err(to_py)?;
        Ok(Scenario {
            inner: Arc::new(inner),
        })
    }

    /// Reads and validates a scenario given as YAML text.
    #[staticmethod]
    fn from_text(text: &str) -> PyResult<Scenario> {
        let inner = regimen::Scenario::from_yaml_str(text).map_err(to_py)?;
        Ok(Scenario {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }

    #[getter]
    fn source(&self) -> String {
        self.inner.source.display().to_string()
    }

    #[getter]
    fn arms(&self) -> Vec<String> {
        self.inner.arms.iter().map(|a| a.name.clone()).collect()
    }

    #[getter]
    fn drugs(&self) -> Vec<String> {
        self.inner.drugs.iter().map(|d| d.name.clone()).collect()
    }

    #[getter]
    fn compartments(&self) -> Vec<String> {
        self.inner
            .model
            .compartments
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    #[getter]
    fn horizon(&self) -> f64 {
        self.inner.horizon
    }

    #[getter]
    fn time_units(&self) -> &'static str {
        self.inner.time_units.as_str()
    }

    #[getter]
    fn sha256(&self) -> String {
        self.inner.sha256()
    }

    /// The resolved scenario as YAML, every default filled in (what `regimen check` prints).
    fn resolved_yaml(&self) -> String {
        self.inner.resolved_yaml()
    }

    /// This scenario with fields changed: a list of (dotted path, number, string or bool).
    fn with_params(&self, params: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Scenario> {
        let mut values = Vec::with_capacity(params.len());
        for (path, value) in &params {
            values.push((path.as_str(), py_to_json(path, value)?));
        }
        let inner = self.inner.with_params(&values).map_err(to_py)?;
        Ok(Scenario {
            inner: Arc::new(inner),
        })
    }

    #[pyo3(signature = (arm=None, record_every=1.0, noise_seed=None))]
    fn simulate(
        &self,
        py: Python<'_>,
        arm: Option<String>,
        record_every: f64,
        noise_seed: Option<u64>,
    ) -> PyResult<Simulation> {
        let options = SimulateOptions {
            arm,
            record_every,
            noise_seed,
        };
        let scenario = self.inner.clone();
        let run = run_job(py, None, || api::simulate(&scenario, &options))?;
        Ok(Simulation {
            scenario: self.inner.clone(),
            run,
        })
    }

    #[pyo3(signature = (rollouts=1000, seed=1, reference=None, arms=None, trajectories=0, record_every=7.0, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &self,
        py: Python<'_>,
        rollouts: u64,
        seed: u64,
        reference: Option<String>,
        arms: Option<Vec<String>>,
        trajectories: u64,
        record_every: f64,
        threads: Option<usize>,
    ) -> PyResult<Comparison> {
        let options = CompareOptions {
            rollouts,
            seed,
            reference,
            arms,
            trajectories,
            record_every,
            shard: None,
        };
        let scenario = self.inner.clone();
        let run = run_job(py, threads, || api::compare(&scenario, &options, &Silent))?;
        Ok(Comparison {
            scenario: self.inner.clone(),
            run,
        })
    }

    #[pyo3(signature = (seed=1, objective=None, rollouts=None, holdout=None, budget_evals=None, families=None, solver=None, racing=None, max_relative_dose=None, pareto=None, time_limit=None, threads=None, sensitivity=None))]
    #[allow(clippy::too_many_arguments)]
    fn optimise(
        &self,
        py: Python<'_>,
        seed: u64,
        objective: Option<String>,
        rollouts: Option<u64>,
        holdout: Option<u64>,
        budget_evals: Option<u64>,
        families: Option<Vec<String>>,
        solver: Option<String>,
        racing: Option<bool>,
        max_relative_dose: Option<f64>,
        pareto: Option<Vec<f64>>,
        time_limit: Option<f64>,
        threads: Option<usize>,
        sensitivity: Option<bool>,
    ) -> PyResult<Optimisation> {
        let overrides = Overrides {
            objective: objective
                .as_deref()
                .map(regimen::search::config::parse_objective)
                .transpose()
                .map_err(to_py)?,
            rollouts,
            holdout,
            budget_evals,
            max_relative_dose,
            families: families
                .map(|f| f.iter().map(|n| family(n)).collect::<PyResult<Vec<_>>>())
                .transpose()?,
            solver: solver.as_deref().map(solver_named).transpose()?,
            racing,
            pareto,
            sensitivity,
        };
        if let Some(n) = budget_evals {
            regimen::support::limits::budget_evals(n).map_err(to_py)?;
        }
        let options = OptimiseOptions {
            seed,
            overrides,
            time_limit: time_limit
                .filter(|t| t.is_finite() && *t > 0.0)
                .map(|t| Duration::from_secs_f64(t.min(1.0e9))),
        };
        let scenario = self.inner.clone();
        let run = run_job(py, threads, || {
            api::optimise(&scenario, &options, &Silent, None)
        })?;
        Ok(Optimisation {
            scenario: self.inner.clone(),
            run,
        })
    }

    /// Fits the model to observed data as `regimen fit` does; the scenario's `fit:` block
    /// gives every setting left as None. `free`: (path, lower, upper) triples replacing the
    /// block's free parameters.
    #[pyo3(signature = (data=None, until=None, cycles=None, starts=None, error=None, free=None, profiles=None, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        &self,
        py: Python<'_>,
        data: Option<PathBuf>,
        until: Option<f64>,
        cycles: Option<u32>,
        starts: Option<u32>,
        error: Option<String>,
        free: Option<Vec<(String, f64, f64)>>,
        profiles: Option<bool>,
        threads: Option<usize>,
    ) -> PyResult<Fit> {
        use regimen::scenario::spec::{ErrorModelName, FreeParameterSpec};
        let error = match error.as_deref() {
            None => None,
            Some("additive") => Some(ErrorModelName::Additive),
            Some("proportional") => Some(ErrorModelName::Proportional),
            Some("combined") => Some(ErrorModelName::Combined),
            Some("log_additive") => Some(ErrorModelName::LogAdditive),
            Some(other) => {
                return Err(RegimenError::new_err(format!(
                    "error model `{other}`: use additive, proportional, combined or log_additive"
                )));
            }
        };
        let options = api::FitOptions {
            data,
            until,
            cycles,
            starts,
            error,
            free: free.map(|list| {
                list.into_iter()
                    .map(|(path, lower, upper)| {
                        let spec = FreeParameterSpec {
                            lower: Some(lower),
                            upper: Some(upper),
                            ..FreeParameterSpec::default()
                        };
                        (path, spec)
                    })
                    .collect()
            }),
            profiles,
        };
        let scenario = self.inner.clone();
        let run = run_job(py, threads, || api::fit(&scenario, &options, &Silent))?;
        Ok(Fit { run })
    }

    /// Calibrates the population to the published trial statistics of `fit.targets`, as
    /// `regimen fit --targets` does.
    #[pyo3(signature = (rollouts=None, budget=None, seed=None, threads=None))]
    fn calibrate(
        &self,
        py: Python<'_>,
        rollouts: Option<u64>,
        budget: Option<u32>,
        seed: Option<u64>,
        threads: Option<usize>,
    ) -> PyResult<Calibration> {
        let options = api::CalibrateOptions {
            rollouts,
            budget,
            seed,
        };
        let scenario = self.inner.clone();
        let run = run_job(py, threads, || api::calibrate(&scenario, &options, &Silent))?;
        Ok(Calibration { run })
    }

    fn __repr__(&self) -> String {
        format!(
            "Scenario({:?}: {} arms, {} drugs, horizon {} {})",
            self.inner.name,
            self.inner.arms.len(),
            self.inner.drugs.len(),
            self.inner.horizon,
            self.inner.time_units.as_str()
        )
    }
}

fn py_to_json(path: &str, value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    if let Ok(b) = value.extract::<bool>() {
        return Ok(b.into());
    }
    if let Ok(i) = value.extract::<i64>() {
        return Ok(i.into());
    }
    if let Ok(x) = value.extract::<f64>() {
        return serde_json::Number::from_f64(x)
            .map(serde_json::Value::Number)
            .ok_or_else(|| {
                InvalidScenario::new_err(format!("{path}: {x} is not a finite number"))
            });
    }
    if let Ok(s) = value.extract::<String>() {
        return Ok(s.into());
    }
    Err(InvalidScenario::new_err(format!(
        "{path}: a parameter value must be a number, a string or a bool"
    )))
}

fn family(name: &str) -> PyResult<regimen::scenario::spec::FamilyName> {
    regimen::scenario::spec::FamilyName::NAMED
        .into_iter()
        .find(|f| f.as_str() == name)
        .ok_or_else(|| {
            RegimenError::new_err(format!(
                "families: unknown family `{name}`; use intermittent, holiday, adaptive, \
                 modulation, lp, companion or sequence"
            ))
        })
}

fn solver_named(name: &str) -> PyResult<regimen::search::family::Solver> {
    use regimen::search::family::Solver;
    [Solver::NelderMead, Solver::ParticleSwarm]
        .into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| {
            RegimenError::new_err(format!(
                "solver must be nelder-mead or particle-swarm, got `{name}`"
            ))
        })
}

/// The deterministic runs of some arms.
#[pyclass(frozen, module = "regimen._regimen")]
struct Simulation {
    scenario: Arc<regimen::Scenario>,
    run: api::Simulation,
}

#[pymethods]
impl Simulation {
    /// One of `trajectory`, `visits`, `outcomes`, `doses`, and for model-predictive arms
    /// `mpc_filter`, `mpc_decisions`.
    fn frame<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        let s = &self.scenario;
        let none = || RegimenError::new_err("no arm of this run has a model-predictive (mpc) rule");
        let frame = match name {
            "trajectory" => regimen::report::trajectory_frame(s, &self.run.labelled()),
            "visits" => regimen::report::visits_frame(&self.run.labelled()),
            "doses" => regimen::report::doses_frame(s, &self.run.labelled()),
            "mpc_filter" => {
                regimen::report::mpc_filter_frame(s, &self.run.labelled()).ok_or_else(none)?
            }
            "mpc_decisions" => {
                regimen::report::mpc_decisions_frame(&self.run.labelled()).ok_or_else(none)?
            }
            "outcomes" => {
                let refs: Vec<(&str, &regimen::sim::RunResult)> =
                    self.run.runs.iter().map(|(n, r)| (n.as_str(), r)).collect();
                regimen::report::outcomes_frame(s, &refs)
            }
            other => return Err(RegimenError::new_err(format!("no table `{other}`"))),
        };
        frame_to_py(py, &frame)
    }

    /// The table `regimen simulate` prints.
    fn text(&self) -> String {
        api::text::simulation(&self.scenario, &self.run)
    }

    /// Writes the run's folder as `regimen simulate --out DIR` does.
    #[pyo3(signature = (dir, plots=true))]
    fn write(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<Vec<String>> {
        let source = self.scenario.source.clone();
        run_job(py, None, || {
            write_folder(&dir, &[&source], plots, |d| {
                api::write::simulation(&self.scenario, &self.run, d)
            })
        })
    }
}

/// A comparison of arms on common random numbers.
#[pyclass(frozen, module = "regimen._regimen")]
struct Comparison {
    scenario: Arc<regimen::Scenario>,
    run: api::Comparison,
}

#[pymethods]
impl Comparison {
    /// One of `summary` (summary.csv), `outcomes` (one row per rollout and arm), and, when
    /// trajectories were kept, `trajectory`, `visits`, `doses`.
    fn frame<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        let s = &self.scenario;
        let labelled = self.run.rollouts.kept_runs();
        let frame = match name {
            "summary" => regimen::report::compare_frame(s, &self.run.rows),
            "outcomes" => regimen::report::rollouts_frame(s, &self.run.rollouts.by_arm()),
            "trajectory" => regimen::report::trajectory_frame(s, &labelled),
            "visits" => regimen::report::visits_frame(&labelled),
            "doses" => regimen::report::doses_frame(s, &labelled),
            other => return Err(RegimenError::new_err(format!("no table `{other}`"))),
        };
        frame_to_py(py, &frame)
    }

    /// summary.csv as the command line writes it.
    fn summary_csv(&self) -> String {
        regimen::report::compare_csv(&self.scenario, &self.run.rows)
    }

    /// summary.json as the command line writes it.
    fn summary_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.run.rows)
            .map_err(|e| RegimenError::new_err(e.to_string()))
    }

    #[getter]
    fn notes(&self) -> Vec<String> {
        self.run.notes.clone()
    }

    #[getter]
    fn reference(&self) -> String {
        self.run.rollouts.reference_name().to_owned()
    }

    /// The tables `regimen compare` prints.
    fn text(&self) -> String {
        api::text::comparison(&self.scenario, &self.run)
    }

    /// Writes the comparison's folder as `regimen compare --out DIR` does.
    #[pyo3(signature = (dir, plots=true))]
    fn write(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<Vec<String>> {
        let source = self.scenario.source.clone();
        run_job(py, None, || {
            write_folder(&dir, &[&source], plots, |d| {
                api::write::comparison(&self.scenario, &self.run, "compare", d)
            })
        })
    }
}

/// An optimisation's leaderboard.
#[pyclass(frozen, module = "regimen._regimen")]
struct Optimisation {
    scenario: Arc<regimen::Scenario>,
    run: api::Optimisation,
}

#[pymethods]
impl Optimisation {
    /// One of `leaderboard`, `trace`, `pareto`, `robust`, `sensitivity`.
    fn frame<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        use regimen::search::output;
        let board = &self.run.board;
        let frame = match name {
            "leaderboard" => output::leaderboard_frame(board),
            "trace" => output::trace_frame(board),
            "pareto" => output::pareto_frame(board),
            "robust" => output::robust_frame(board).ok_or_else(|| {
                RegimenError::new_err(
                    "no robust table: the scenario's optimise block has no robust: settings",
                )
            })?,
            "sensitivity" => output::sensitivity_frame(board).ok_or_else(|| {
                RegimenError::new_err("no sensitivity table: the report was turned off")
            })?,
            other => return Err(RegimenError::new_err(format!("no table `{other}`"))),
        };
        frame_to_py(py, &frame)
    }

    /// best.yaml: the best feasible schedule as an arm to paste into the scenario.
    fn best_yaml(&self) -> Option<String> {
        regimen::search::output::best_yaml(&self.run.board, &self.run.plan, &self.scenario)
    }

    /// The leaderboard `regimen optimise` prints.
    fn text(&self) -> String {
        api::text::optimisation(&self.scenario, &self.run)
    }

    /// Writes the optimisation's folder as `regimen optimise --out DIR` does.
    #[pyo3(signature = (dir, plots=true))]
    fn write(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<Vec<String>> {
        let source = self.scenario.source.clone();
        run_job(py, None, || {
            write_folder(&dir, &[&source], plots, |d| {
                api::write::optimisation(&self.scenario, &self.run, d)
            })
        })
    }
}

/// A fit of the model to observed data.
#[pyclass(frozen, module = "regimen._regimen")]
struct Fit {
    run: api::Fitted,
}

#[pymethods]
impl Fit {
    /// One of `estimates`, `predictions`, `forecast`, `population`, `curves`, `dosing`, `vpc`.
    fn frame<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        use regimen::fit::output;
        let fits = &self.run.subjects;
        let frame = match name {
            "estimates" => output::estimates(fits),
            "predictions" => output::predictions(fits),
            "forecast" => output::forecasts(fits),
            "population" => output::population(&self.run.population),
            "curves" => output::curves(fits),
            "dosing" => output::dosing(fits),
            "vpc" => output::vpc(&self.run.vpc),
            other => return Err(RegimenError::new_err(format!("no table `{other}`"))),
        };
        frame_to_py(py, &frame)
    }

    /// The subjects' IDs, in the data's order.
    fn subjects(&self) -> Vec<String> {
        self.run.subjects.iter().map(|s| s.id.clone()).collect()
    }

    /// The scenario of subject `id` (its estimates and doses), as subjects/<ID>.yaml holds it.
    fn subject_yaml(&self, id: &str) -> PyResult<String> {
        self.run
            .subjects
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.scenario.clone())
            .ok_or_else(|| RegimenError::new_err(format!("no subject `{id}`")))
    }

    /// population.yaml: the scenario drawing virtual patients from the estimates.
    fn population_yaml(&self) -> String {
        self.run.population_yaml.clone()
    }

    /// The table `regimen fit` prints.
    fn text(&self) -> String {
        api::text::fitted(&self.run)
    }

    /// Writes the fit's folder as `regimen fit --out DIR` does.
    #[pyo3(signature = (dir, plots=true))]
    fn write(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<Vec<String>> {
        let source = self.run.scenario.source.clone();
        let data = self.run.data_file.clone();
        run_job(py, None, || {
            write_folder(&dir, &[&source, &data], plots, |d| {
                api::write::fitted(&self.run, d)
            })
        })
    }
}

/// A population calibrated to published trial statistics.
#[pyclass(frozen, module = "regimen._regimen")]
struct Calibration {
    run: api::Calibrated,
}

#[pymethods]
impl Calibration {
    /// One of `targets`, `parameters`, `pfs`.
    fn frame<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyList>> {
        use regimen::fit::output;
        let c = &self.run.calibration;
        let frame = match name {
            "targets" => output::calibration_targets(c),
            "parameters" => output::calibration_parameters(c),
            "pfs" => output::calibration_curve(c),
            other => return Err(RegimenError::new_err(format!("no table `{other}`"))),
        };
        frame_to_py(py, &frame)
    }

    /// The calibrated scenario (the estimates written in), resolved.
    fn calibrated_yaml(&self) -> String {
        self.run.calibration.scenario.resolved_yaml()
    }

    /// The table `regimen fit --targets` prints.
    fn text(&self) -> String {
        api::text::calibrated(&self.run)
    }

    /// Writes the calibration's folder as `regimen fit --targets --out DIR` does.
    #[pyo3(signature = (dir, plots=true))]
    fn write(&self, py: Python<'_>, dir: PathBuf, plots: bool) -> PyResult<Vec<String>> {
        let source = self.run.scenario.source.clone();
        run_job(py, None, || {
            write_folder(&dir, &[&source], plots, |d| {
                api::write::calibrated(&self.run, d)
            })
        })
    }
}

#[pymodule]
fn _regimen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Scenario>()?;
    m.add_class::<Simulation>()?;
    m.add_class::<Comparison>()?;
    m.add_class::<Optimisation>()?;
    m.add_class::<Fit>()?;
    m.add_class::<Calibration>()?;
    m.add("RegimenError", m.py().get_type::<RegimenError>())?;
    m.add("InvalidScenario", m.py().get_type::<InvalidScenario>())?;
    m.add("LimitError", m.py().get_type::<LimitError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
