//! The stochastic engine: exact birth–death transition laws per step, with switching and
//! mutation drawn on top, for populations from one cell to 1e15.
//!
//! Over a step of length h, each compartment is a linear birth–death process with birth
//! rate λ(s) (divisions that stay in the compartment) and death rate μ(s). Kendall (1948)
//! gives the law of one lineage for time-varying rates: with ρ(s) = ∫₀ˢ (μ − λ) and
//! W = e^{ρ(h)} + ∫₀ʰ λ(s)·e^{ρ(s)} ds, a lineage is extinct at h with probability
//! α = 1 − 1/W and otherwise holds 1 + Geometric(β) cells, β = (∫λe^ρ)/W. The step draws N
//! lineages at once (Mather, Hasty & Tsimring 2012, "BNB"): survivors K ~ Binomial(N, 1 − α),
//! then N' = K + NegativeBinomial(K, β). The integrals are taken by composite Simpson rules
//! over the exposure (on a mesh graded towards the step start when a drug has
//! pharmacokinetics, whose absorption peak comes within hours of a dose), with the crowding
//! held at the state predicted for the step's midpoint.
//!
//! Switching between compartments is a continuous-time Markov chain per cell: every cell of
//! compartment i ends the step in j with probability [exp(∫Q)]_ij, drawn as a multinomial, so
//! cells that switch twice within a step are counted right. Switching and birth–death are
//! applied one after the other, in an order that alternates step by step (Lie splitting with
//! alternating order, second order in the step like Strang's, with half the switching
//! draws). Mutations are births: the number of mutant daughters i → j in a step is Poisson
//! with mean μ_ij ∫ λ_i E\[N_i\]; each starts as one cell at a uniform time within the step
//! and follows the destination's birth–death law for the rest of it. Counts stay whole
//! numbers ≥ 0. Where a draw's expected size exceeds [`GAUSSIAN_ABOVE`], the normal law with
//! the exact mean and variance replaces it (relative skewness below 0.3 %).
//!
//! What a step needs besides the counts — the exposure at the nodes, the rates, the
//! integrals of Kendall's law and the switching exponential — depends on the exposure state
//! and on the counts only through a crowding scalar; it is computed once per (model,
//! exposure state, step) in a kernel (`stochastic/kernel.rs`) that every rollout taking that step shares, and a
//! rollout evaluates its own law from the kernel with a few multiplications.
//!
//! Every draw comes from a stream keyed by (seed, rollout, step, unit, channel): the
//! (seed, rollout) digest is taken once per rollout, the step absorbed once per step, and
//! each (unit, channel) reads its own stretch of the step's sequence (see
//! [`crate::support::rng::RolloutKey`]). The step key is the index of the step on a fixed time
//! grid, so two arms whose doses and visits coincide draw identical numbers.

// Per-compartment buffers are indexed alongside the state; index loops read clearest.
#![allow(clippy::needless_range_loop)]

mod block;
mod draws;
mod kernel;
mod lanes;

pub use block::{Block, Leg};
pub use draws::GAUSSIAN_ABOVE;
use draws::lineage_law;

use super::Propagator;
use crate::model::Model;
use crate::model::pk::Exposure;
use crate::support::rng::{RolloutKey, StepKey};
use kernel::{Context, Kernel, Law, Nodes, Profile};

/// A step whose switching compartments all hold more cells than this draws them jointly
/// from the normal law (see `StochasticPropagator::joint_laws`).
const JOINT_ABOVE: f64 = GAUSSIAN_ABOVE;
/// Up to this many cells leaving a compartment in a step that is not a joint one are sent
/// to their destinations one by one (a uniform each; more take a binomial per destination).
const SPLIT_CELL_BY_CELL: u64 = 16;
/// Sub-steps per grid cell that get distinct keys (events rarely split a cell more).
const SUBSTEPS_PER_CELL: u64 = 1 << 16;

// Stream slots of a step: unit × CHANNELS + channel; units are compartments, then mutations.
const CHANNELS: u64 = 3;
const CH_SURVIVORS: u64 = 0;
const CH_OFFSPRING: u64 = 1;
const CH_SWITCH: u64 = 2;
const CH_MUTANT_COUNT: u64 = 0;
const CH_MUTANT_GROWTH: u64 = 1;

/// Configuration of one stochastic rollout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StochasticSettings {
    /// The run's seed.
    pub seed: u64,
    /// The rollout's number.
    pub rollout: u64,
    /// Grid step in time units.
    pub step: f64,
}

/// One step of a leg (see [`StochasticPropagator::plan`]).
#[derive(Debug, Clone, Copy)]
struct StepPlan {
    /// Its start, and its start within the exposure segment.
    t: f64,
    tau0: f64,
    /// Its length and its end.
    h: f64,
    end: f64,
    /// Its key on the time grid.
    step_id: u64,
    /// Switching before birth–death.
    switch_first: bool,
}

/// A compartment mutants land in.
struct MutationTarget {
    to: usize,
    /// The index of the first mutation into it: the stream unit of its draws.
    first: usize,
    /// Every mutation into it that can happen (probability > 0), as (source, probability)
    /// in the model's order.
    sources: Vec<(usize, f64)>,
}

impl MutationTarget {
    /// The mean number of mutant daughters into it over a step from `n(from)` cells per
    /// source, whose lineages divide `divisions(from)` times per cell.
    #[inline(always)]
    fn mean(&self, n: impl Fn(usize) -> f64, divisions: impl Fn(usize) -> f64) -> f64 {
        let mut mean = 0.0;
        for &(from, probability) in &self.sources {
            let count = n(from);
            if count > 0.0 {
                mean += probability * count * divisions(from);
            }
        }
        mean
    }
}

/// A joint step between its stages: what every stage needs besides the lane's scratch.
struct Pending {
    /// The step's start (for errors).
    t: f64,
    kernel: std::rc::Rc<Kernel>,
    key: StepKey,
    h: f64,
    switch_first: bool,
}

/// The stochastic engine: each step draws every compartment from the exact birth–death law
/// (binomial, then negative binomial), switching and mutation on top, from streams keyed by
/// (seed, rollout, step, unit, channel). What a step needs beyond the counts comes from a
/// shared kernel.
pub struct StochasticPropagator {
    key: RolloutKey,
    step: f64,
    nodes: Nodes,
    /// The switching compartments, in draw order.
    members: Vec<usize>,
    /// Joint steps of this model can run as arrays across lanes (`lanes::fits`).
    arrays: bool,
    /// Σ_j μ_ij per compartment: the share of divisions that yield a mutant daughter
    /// instead of a second cell of the parent's kind.
    mutation_share: Vec<f64>,
    /// Each compartment mutants land in, in order of first appearance.
    mutation_targets: Vec<MutationTarget>,
    /// Digests of the model and the quadrature, and of the response curves' shapes, for the
    /// kernel and profile caches.
    digest: u64,
    shape_digest: u64,
    switch_digest: u64,
    /// Some drug has pharmacokinetics: the exposure within a segment depends on the time.
    timed: bool,
    /// Crowding bucket widths for steps of length `widths_for`.
    widths: Vec<f64>,
    inverse_widths: Vec<f64>,
    widths_for: f64,
    /// Per compartment: the first compartment crowded the same way (equal law and
    /// competition row), whose crowding scalar it shares.
    crowd_like: Vec<usize>,
    /// Per compartment: crowding scalar at the step start, its bucket and reference, and at
    /// the predicted midpoint.
    x: Vec<Option<f64>>,
    mid: Vec<Option<f64>>,
    buckets: Vec<i64>,
    x0: Vec<f64>,
    predicted: Vec<f64>,
    laws: Vec<Law>,
    next: Vec<f64>,
    /// Scratch of the joint step: the birth–death start, per member the mean growth, the
    /// per-cell variance, the mean and covariance of the outcome and its draw.
    start: Vec<f64>,
    member: Vec<bool>,
    growth: Vec<f64>,
    spread: Vec<f64>,
    mean: Vec<f64>,
    /// The covariance's packed lower triangle (see `draws::correlated_normal`).
    tri: Vec<f64>,
    draw: Vec<f64>,
    /// The last kernel and its key: consecutive steps often share one (a steady daily
    /// dose repeats the exposure state bit for bit), and this skips the cache lookup.
    last: Option<(kernel::KernelKey, std::rc::Rc<Kernel>)>,
    /// Grid cell of the last step and how many sub-steps it has had.
    cell: Option<u64>,
    sub: u64,
}

impl StochasticPropagator {
    /// A propagator for `model`. `graded_nodes`: some drug has pharmacokinetics, so the
    /// exposure can rise steeply just after a dose and the first half step gets a graded mesh.
    pub fn new(model: &Model, graded_nodes: bool, settings: StochasticSettings) -> Self {
        let n = model.n_compartments();
        let mut mutation_share = vec![0.0; n];
        for mu in &model.mutations {
            mutation_share[mu.from] += mu.probability;
        }
        let mut mutation_targets: Vec<MutationTarget> = Vec::new();
        for (f, mu) in model.mutations.iter().enumerate() {
            if !mutation_targets.iter().any(|t| t.to == mu.to) {
                mutation_targets.push(MutationTarget {
                    to: mu.to,
                    first: f,
                    sources: model.mutations[f..]
                        .iter()
                        .filter(|m| m.to == mu.to && m.probability > 0.0)
                        .map(|m| (m.from, m.probability))
                        .collect(),
                });
            }
        }
        let nodes = Nodes::new(graded_nodes);
        let members = kernel::switching_members(model);
        let m = members.len();
        let digest = crate::support::rng::mix64(
            model.fingerprint() ^ (nodes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        StochasticPropagator {
            key: RolloutKey::new(settings.seed, settings.rollout),
            step: settings.step,
            nodes,
            mutation_share,
            mutation_targets,
            digest,
            shape_digest: model.shape_fingerprint(),
            switch_digest: crate::support::rng::mix64(
                model.switching_fingerprint() ^ 0x5377_6974_6368_6573, // "Switches"
            ),
            timed: graded_nodes,
            widths: vec![0.0; n],
            inverse_widths: vec![0.0; n],
            widths_for: f64::NAN,
            crowd_like: (0..n)
                .map(|i| {
                    let c = &model.compartments[i];
                    (0..i)
                        .find(|&j| {
                            let d = &model.compartments[j];
                            d.growth == c.growth && d.competition == c.competition
                        })
                        .unwrap_or(i)
                })
                .collect(),
            x: vec![None; n],
            mid: vec![None; n],
            buckets: vec![0; n],
            x0: vec![0.0; n],
            predicted: vec![0.0; n],
            laws: vec![
                Law {
                    em1: 0.0,
                    integral: 0.0,
                    divisions: 0.0,
                };
                n
            ],
            next: vec![0.0; n],
            start: vec![0.0; n],
            member: (0..n).map(|i| members.contains(&i)).collect(),
            arrays: lanes::fits(model, members.len()),
            growth: vec![0.0; m],
            spread: vec![0.0; m],
            mean: vec![0.0; m],
            tri: vec![0.0; m * (m + 1) / 2],
            draw: vec![0.0; m],
            members,
            last: None,
            cell: None,
            sub: 0,
        }
    }

    /// The kernel of a step of length `h` starting `tau0` into the exposure segment, for
    /// the crowding of state `n`.
    fn kernel(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        tau0: f64,
        h: f64,
        n: &[f64],
    ) -> std::rc::Rc<Kernel> {
        if self.widths_for != h {
            for (i, w) in self.widths.iter_mut().enumerate() {
                *w = kernel::bucket_width(model, i, h);
                self.inverse_widths[i] = 1.0 / *w;
            }
            self.widths_for = h;
        }
        // (Every buffer sliced to the compartment count first, so the loop indexes without
        // bounds checks.)
        let nc = n.len();
        let (crowd_like, widths, inverse) = (
            &self.crowd_like[..nc],
            &self.widths[..nc],
            &self.inverse_widths[..nc],
        );
        let (xs, buckets, x0) = (
            &mut self.x[..nc],
            &mut self.buckets[..nc],
            &mut self.x0[..nc],
        );
        for i in 0..nc {
            let shared = crowd_like[i];
            let x = if shared < i {
                xs[shared]
            } else {
                model.crowding(i, n)
            };
            xs[i] = x;
            (buckets[i], x0[i]) = kernel::bucket(x, widths[i], inverse[i]);
        }
        let start = if self.timed { tau0 } else { 0.0 };
        let exposed = exposure.digest();
        let key = kernel::key(self.digest, exposed, start, h, &self.buckets);
        if let Some((last, k)) = &self.last
            && *last == key
        {
            return std::rc::Rc::clone(k);
        }
        let cx = Context {
            model,
            nodes: &self.nodes,
            members: &self.members,
            mutation_share: &self.mutation_share,
        };
        let x0 = &self.x0;
        let nodes = &self.nodes;
        let (shapes, switches) = (self.shape_digest, self.switch_digest);
        let found = kernel::cached(key, || {
            let profile_key = kernel::key(shapes, exposed, start, h, &[nodes.len() as i64]);
            let profile = kernel::cached_profile(profile_key, || {
                Profile::build(model, nodes, exposure, tau0, h)
            });
            let switch_key = kernel::key(switches, exposed, start, h, &[nodes.len() as i64]);
            Kernel::build(&cx, &profile, h, x0, switch_key)
        });
        self.last = Some((key, std::rc::Rc::clone(&found)));
        found
    }

    /// The step from `t` of a leg that runs from `t0` to `end`: up to the next line of the
    /// fixed time grid (or the leg's end), keyed by its grid cell and its number within it.
    fn plan(&mut self, t0: f64, t: f64, end: f64) -> StepPlan {
        let dt = self.step;
        let tiny = 1e-9 * dt;
        // (Truncation is the floor here, t ≥ 0, without the library call for floor.)
        let cell = ((t + tiny) / dt) as u64;
        let t1 = ((cell + 1) as f64 * dt).min(end);
        if self.cell == Some(cell) {
            self.sub += 1;
        } else {
            self.cell = Some(cell);
            self.sub = 0;
        }
        let step_id = cell
            .wrapping_mul(SUBSTEPS_PER_CELL)
            .wrapping_add(self.sub.min(SUBSTEPS_PER_CELL - 1));
        StepPlan {
            t,
            tau0: t - t0,
            h: t1 - t,
            end: t1,
            step_id,
            // The order alternates step by step, so the splitting error of one step is undone
            // by the next to second order.
            switch_first: (cell + self.sub).is_multiple_of(2),
        }
    }

    /// Starts the step `plan`: its key and kernel. A step in which every switching
    /// compartment holds more than [`JOINT_ABOVE`] cells is returned as [`Pending`], for the
    /// caller to run its stages ([`Self::joint_laws`] to [`Self::joint_finish`]); any other
    /// step is taken whole here (switching and birth–death in the order the plan says).
    fn begin_step(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        plan: &StepPlan,
        n: &mut [f64],
    ) -> Option<Pending> {
        let key = self.key.step(plan.step_id);
        let kernel = self.kernel(model, exposure, plan.tau0, plan.h, n);
        let switching = !model.transitions.is_empty();
        let members = &self.members;
        if switching
            && members.len() <= draws::MAX_JOINT
            && members.iter().all(|&c| n[c] > JOINT_ABOVE)
        {
            return Some(Pending {
                t: plan.t,
                kernel,
                key,
                h: plan.h,
                switch_first: plan.switch_first,
            });
        }
        self.scalar_step(model, &kernel, plan, n, &key);
        None
    }

    /// A step that is not a joint one: switching and birth–death in the order the plan
    /// says, each compartment and each move drawn on its own.
    fn scalar_step(
        &mut self,
        model: &Model,
        kernel: &Kernel,
        plan: &StepPlan,
        n: &mut [f64],
        key: &StepKey,
    ) {
        let switching = !model.transitions.is_empty();
        if switching && plan.switch_first {
            self.switch(kernel, n, key);
        }
        self.birth_death(model, kernel, plan.h, n, key);
        if switching && !plan.switch_first {
            self.switch(kernel, n, key);
        }
    }

    /// Each compartment's lineages over the step, and the mutant daughters they make.
    fn birth_death(
        &mut self,
        model: &Model,
        kernel: &Kernel,
        h: f64,
        n: &mut [f64],
        key: &StepKey,
    ) {
        self.update_laws(model, kernel, n);
        for i in 0..n.len() {
            self.next[i] = self.lineages(i, n[i], key);
        }
        self.mutations(kernel, h, n, key);
        n.copy_from_slice(&self.next);
    }

    /// Each compartment's law over the step, at the crowding of `n`'s predicted midpoint.
    fn update_laws(&mut self, model: &Model, kernel: &Kernel, n: &[f64]) {
        // (Every buffer sliced to the compartment count first, so the loops index without
        // bounds checks.)
        let nc = n.len();
        let (x, x0) = (&self.x[..nc], &self.x0[..nc]);
        for (j, (p, &count)) in self.predicted[..nc].iter_mut().zip(n).enumerate() {
            *p = count * kernel.shrink_half(j, x[j].unwrap_or(x0[j]));
        }
        let (crowd_like, share) = (&self.crowd_like[..nc], &self.mutation_share[..nc]);
        let (mid, laws) = (&mut self.mid[..nc], &mut self.laws[..nc]);
        for i in 0..nc {
            let shared = crowd_like[i];
            let x = if shared < i {
                mid[shared]
            } else {
                model.crowding(i, &self.predicted)
            };
            mid[i] = x;
            laws[i] = kernel.law(&self.nodes, i, x, share[i]);
        }
    }

    /// The cells `count` cells of compartment `i` leave after the step.
    fn lineages(&self, i: usize, count: f64, key: &StepKey) -> f64 {
        if count <= 0.0 {
            return 0.0;
        }
        let law = &self.laws[i];
        let (alpha, beta) = lineage_law(law.em1, law.integral);
        lineages_of(i, count, alpha, beta, key)
    }

    /// Mutant daughters of the cells `n` holds at the birth–death start, added to `next`:
    /// per destination, a Poisson count with mean Σ μ ∫ (divisions)·E[N_from] over the
    /// mutations into it (independent Poisson counts add up, and a mutant's fate depends only
    /// on where it lands), each growing from its birth to the end of the step at the
    /// destination's mean rates.
    fn mutations(&mut self, kernel: &Kernel, h: f64, n: &[f64], key: &StepKey) {
        for target in &self.mutation_targets {
            let mean = target.mean(|from| n[from], |from| self.laws[from].divisions);
            let mid = self.mid[target.to];
            if let Some(cells) = self.mutants(kernel, h, target, mean, mid, key) {
                self.next[target.to] += cells;
            }
        }
    }

    /// The cells that mutant daughters into `target` leave at the step's end (`None` when
    /// none arrives): their number is Poisson with `mean`, and each grows at the
    /// destination's mean rates at its midpoint crowding `mid`. The arrays call this too.
    fn mutants(
        &self,
        kernel: &Kernel,
        h: f64,
        target: &MutationTarget,
        mean: f64,
        mid: Option<f64>,
        key: &StepKey,
    ) -> Option<f64> {
        if mean.is_nan() || mean <= 0.0 {
            return None;
        }
        // (Units are compartments, then mutations.)
        let unit = (self.member.len() + target.first) as u64 * CHANNELS;
        let arrivals = draws::poisson(mean, &mut key.stream(unit + CH_MUTANT_COUNT));
        if arrivals == 0 {
            return None;
        }
        let to = target.to;
        let (lambda, mu) = kernel.mean_rates(&self.nodes, to, mid, self.mutation_share[to]);
        Some(draws::grow_arrivals(
            arrivals,
            lambda,
            mu,
            h,
            &mut key.stream(unit + CH_MUTANT_GROWTH),
        ))
    }

    /// The stages of a joint step (see [`Self::begin_step`]): the members' counts after
    /// switching and birth–death together are drawn from the normal law with the composed
    /// step's exact mean and covariance (one normal draw per member instead of a binomial per
    /// pair and a lineage draw per member); the other compartments and the mutations are
    /// drawn as in any step. A lone rollout runs the stages one after the other; a [`Block`]
    /// runs each stage across its lanes before the next.
    ///
    /// First stage: the state birth–death starts from (the switched mean when switching
    /// comes first), every compartment's law, and per member the mean growth and per-cell
    /// variance of its lineages.
    fn joint_laws(&mut self, step: &Pending, model: &Model, n: &[f64]) {
        let m = self.members.len();
        let p = &step.kernel.switching.matrix;
        self.start.copy_from_slice(n);
        if step.switch_first {
            for (b, &cb) in self.members.iter().enumerate() {
                self.start[cb] = self
                    .members
                    .iter()
                    .enumerate()
                    .map(|(a, &ca)| p[a * m + b] * n[ca])
                    .sum();
            }
        }
        // Taken for the call so the laws can be written beside it.
        let start = std::mem::take(&mut self.start);
        self.update_laws(model, &step.kernel, &start);
        self.start = start;
        // Per member: mean growth g = (1−α)/(1−β) = e^{−ρ} and per-cell variance
        // v = (1−α)(α+β)/(1−β)² = (e^ρ − 1 + 2I)·e^{−2ρ} of its lineages (Kendall's law
        // with W = e^ρ + I; one division instead of four).
        for (a, &ca) in self.members.iter().enumerate() {
            let law = &self.laws[ca];
            let g = 1.0 / (1.0 + law.em1);
            self.growth[a] = g;
            self.spread[a] = ((law.em1 + 2.0 * law.integral) * g * g).max(0.0);
        }
    }

    /// The lineages of the compartments that do not switch, from their laws.
    fn joint_others(&mut self, step: &Pending, n: &[f64]) {
        for i in 0..n.len() {
            if self.member[i] {
                continue;
            }
            self.next[i] = self.lineages(i, n[i], &step.key);
        }
    }

    /// Second stage of a joint step: the outcome's mean and the covariance's packed lower
    /// triangle (all the factorisation reads), from the kernel's per-source switching
    /// moments (packed alike, `t` entries each).
    fn joint_covariance(&mut self, step: &Pending, n: &[f64]) {
        // As in `draws::correlated_normal`: the common sizes compiled with m known.
        match self.members.len() {
            2 => self.joint_covariance_of(2, step, n),
            3 => self.joint_covariance_of(3, step, n),
            4 => self.joint_covariance_of(4, step, n),
            5 => self.joint_covariance_of(5, step, n),
            m => self.joint_covariance_of(m, step, n),
        }
    }

    #[inline(always)]
    fn joint_covariance_of(&mut self, m: usize, step: &Pending, n: &[f64]) {
        let members = &self.members[..m];
        let p = &step.kernel.switching.matrix[..m * m];
        let t = m * (m + 1) / 2;
        let moments = &step.kernel.switching.moments[..2 * t * m];
        let (start, growth, spread) = (&self.start, &self.growth[..m], &self.spread[..m]);
        let mean = &mut self.mean[..m];
        let tri = &mut self.tri[..t];
        tri.iter_mut().for_each(|x| *x = 0.0);
        if step.switch_first {
            // Switch (multinomial covariance Σ_a n_a·D_a), then grow: G·C_s·G + diag(v·E[s]).
            for (a, &ca) in members.iter().enumerate() {
                let w = n[ca];
                let d = &moments[2 * t * a..2 * t * a + t];
                for (x, d) in tri.iter_mut().zip(d) {
                    *x += w * d;
                }
            }
            let mut k = 0;
            for b in 0..m {
                for c in 0..=b {
                    tri[k] *= growth[b] * growth[c];
                    k += 1;
                }
                // k − 1 is (b, b), the row's last entry.
                tri[k - 1] += spread[b] * start[members[b]];
                mean[b] = growth[b] * start[members[b]];
            }
        } else {
            // Grow (independent lineages), then switch: Σ_a E[g_a]·D_a + var_a·p_a·p_aᵀ.
            for (a, &ca) in members.iter().enumerate() {
                let (w, u) = (growth[a] * n[ca], spread[a] * n[ca]);
                let (d, o) = moments[2 * t * a..2 * t * (a + 1)].split_at(t);
                for ((x, d), o) in tri.iter_mut().zip(d).zip(o) {
                    *x += w * d + u * o;
                }
            }
            for b in 0..m {
                mean[b] = members
                    .iter()
                    .enumerate()
                    .map(|(a, &ca)| p[a * m + b] * growth[a] * n[ca])
                    .sum();
            }
        }
    }

    /// Third stage of a joint step: the members' counts, one correlated normal draw.
    fn joint_draw(&mut self, step: &Pending, model: &Model) {
        let m = self.members.len();
        let unit = (model.n_compartments() + model.mutations.len()) as u64 * CHANNELS;
        let mut rng = step.key.stream(unit);
        draws::correlated_normal(&self.mean, &mut self.tri, m, &mut rng, &mut self.draw);
        for (b, &cb) in self.members.iter().enumerate() {
            self.next[cb] = self.draw[b];
        }
    }

    /// Last stage of a joint step taken lane by lane (the arrays take the whole step): the
    /// lineages of the compartments that do not switch, the mutant daughters of the cells
    /// birth–death started from, and the new counts into `n`.
    fn joint_finish(&mut self, step: &Pending, n: &mut [f64]) {
        self.joint_others(step, n);
        let start = std::mem::take(&mut self.start);
        self.mutations(&step.kernel, step.h, &start, &step.key);
        self.start = start;
        n.copy_from_slice(&self.next);
    }

    /// Moves cells between compartments: each cell of member a ends the step in member b
    /// with probability [exp(∫Q)]_ab. Per source, the cells that leave are one binomial draw,
    /// and they are split among the other members one by one (a uniform each) when they are
    /// few, else by sequential binomials: the multinomial law, with one exact draw where
    /// most leave a few cells (a draw per destination, each with its own set-up, before).
    fn switch(&mut self, kernel: &Kernel, n: &mut [f64], key: &StepKey) {
        self.next.copy_from_slice(n);
        let members = &self.members;
        let others = members.len().saturating_sub(1);
        let law = &kernel.switching;
        for (a, &source) in members.iter().enumerate() {
            let count = n[source] as u64;
            let leave = law.leave[a];
            if count == 0 || leave <= 0.0 {
                continue;
            }
            let mut rng = key.stream(source as u64 * CHANNELS + CH_SWITCH);
            let leaving = draws::binomial(count, leave, &mut rng);
            if leaving == 0 {
                continue;
            }
            self.next[source] -= leaving as f64;
            // The b-th other member of a.
            let dest = |b: usize| members[if b < a { b } else { b + 1 }];
            let row = a * others..(a + 1) * others;
            if leaving <= SPLIT_CELL_BY_CELL {
                let cumulative = &law.cumulative[row];
                for _ in 0..leaving {
                    let u: f64 = rand::RngExt::random(&mut rng);
                    let b = cumulative
                        .iter()
                        .position(|&c| u < c)
                        .unwrap_or(others.saturating_sub(1));
                    self.next[dest(b)] += 1.0;
                }
            } else {
                let mut remaining = leaving;
                for (b, &q) in law.split[row].iter().enumerate() {
                    if remaining == 0 {
                        break;
                    }
                    let moved = draws::binomial(remaining, q, &mut rng);
                    remaining -= moved;
                    self.next[dest(b)] += moved as f64;
                }
            }
        }
        n.copy_from_slice(&self.next);
    }
}

/// The cells `count` > 0 lineages of compartment `i` leave after the step under the law
/// (α, β), from the step's streams of that compartment.
fn lineages_of(i: usize, count: f64, alpha: f64, beta: f64, key: &StepKey) -> f64 {
    let unit = i as u64 * CHANNELS;
    draws::lineages(
        count,
        alpha,
        beta,
        &mut key.stream(unit + CH_SURVIVORS),
        &mut key.stream(unit + CH_OFFSPRING),
    )
}

impl Propagator for StochasticPropagator {
    fn advance(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        t0: f64,
        span: f64,
        state: &mut [f64],
    ) -> crate::error::Result<()> {
        let end = t0 + span;
        let tiny = 1e-9 * self.step;
        let mut t = t0;
        while t < end - tiny {
            let plan = self.plan(t0, t, end);
            if let Some(step) = self.begin_step(model, exposure, &plan, state) {
                self.joint_laws(&step, model, state);
                self.joint_covariance(&step, state);
                self.joint_draw(&step, model);
                self.joint_finish(&step, state);
            }
            if state.iter().any(|x| !x.is_finite()) {
                return Err(crate::error::Error::engine(t, "a count became non-finite"));
            }
            t = plan.end;
        }
        Ok(())
    }
}
