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
//! terms at the predicted mean state.
//!
//! Switching between compartments is a continuous-time Markov chain per cell. It is applied
//! in two half steps around the birth–death step (Strang splitting): every cell of
//! compartment i moves to j with probability [exp(∫Q)]_ij, drawn as a multinomial, so cells
//! that switch twice within a step are counted right. Mutations are births: the number of
//! mutant daughters i → j in a step is Poisson with mean μ_ij ∫ λ_i E\[N_i\]; each starts as
//! one cell at a uniform time within the step and follows the destination's birth–death
//! law for the rest of it. Counts stay whole numbers ≥ 0. Where a draw's expected size
//! exceeds [`GAUSSIAN_ABOVE`], the normal law with the exact mean and variance replaces it
//! (relative skewness below 0.3 %).
//!
//! Every draw comes from a stream keyed by (seed, rollout, step, unit, channel); the step
//! key is the index of the step on a fixed time grid, so two arms whose doses and visits
//! coincide draw identical numbers.

// Per-node buffers are indexed by node and compartment together; index loops read clearest.
#![allow(clippy::needless_range_loop)]

use super::Propagator;
use crate::model::pk::Exposure;
use crate::model::{Model, Rates};
use crate::support::rng::{Key, Stream};
use rand::RngExt;
use rand_distr::{Binomial, Distribution, Gamma, Geometric, Poisson, StandardNormal};

/// Above this many expected cells (or events) a draw uses the normal law.
pub const GAUSSIAN_ABOVE: f64 = 1.0e5;
/// A binomial draw whose variance exceeds this uses the normal law (skewness below 3 %);
/// smaller draws, which decide the fate of small clones, stay exact.
const BINOMIAL_NORMAL_ABOVE_VARIANCE: f64 = 1.0e3;
/// Up to this many cells arriving in one step each get their own lineage draw.
const SINGLE_ARRIVALS: u64 = 32;
/// Sub-intervals of the first half step on the graded mesh used with pharmacokinetic drugs
/// (the second half is smooth and gets two).
const GRADED_INTERVALS: usize = 2;
/// Sub-steps per grid cell that get distinct keys (events rarely split a cell more).
const SUBSTEPS_PER_CELL: u64 = 1 << 16;

// Channels of a compartment's draws.
const CH_SURVIVORS: u64 = 0;
const CH_OFFSPRING: u64 = 1;
const CH_GAUSSIAN: u64 = 2;
const CH_SWITCH_FIRST_HALF: u64 = 3;
const CH_SWITCH_SECOND_HALF: u64 = 4;
// Mutation draws use unit = n_compartments + mutation index.
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

/// The stochastic engine: each step draws every compartment from the exact birth–death law
/// (binomial, then negative binomial), switching and mutation on top, from streams keyed by
/// (seed, rollout, step, unit, channel).
pub struct StochasticPropagator {
    settings: StochasticSettings,
    /// Quadrature nodes within a step, as fractions of it: ends and midpoints of the
    /// sub-intervals; `half` is the index of the node at 1/2.
    nodes: Vec<f64>,
    half: usize,
    /// Compartments that take part in switching, and the position of each in that list.
    switching: Vec<usize>,
    switch_index: Vec<Option<usize>>,
    /// Σ_j μ_ij per compartment: the share of divisions that yield a mutant daughter
    /// instead of a second cell of the parent's kind.
    mutation_share: Vec<f64>,
    rates: Rates,
    conc: Vec<f64>,
    log_growth: Vec<f64>,
    predicted: Vec<f64>,
    /// Per node and compartment (row-major by node): all divisions, the divisions that keep
    /// the parent's type (λ) and death μ.
    birth: Vec<f64>,
    lambda: Vec<f64>,
    mu: Vec<f64>,
    /// Per node and transition: per-capita switching rate.
    switch_rate: Vec<f64>,
    /// Per node and compartment: ρ(s) = ∫₀ˢ (μ − λ).
    rho: Vec<f64>,
    /// Switching generator × time and its exponential (dimension = switching compartments).
    generator: Vec<f64>,
    expm: ExpmScratch,
    next: Vec<f64>,
    /// Grid cell of the last step and how many sub-steps it has had.
    cell: Option<u64>,
    sub: u64,
}

impl StochasticPropagator {
    /// A propagator for `model`. `graded_nodes`: some drug has pharmacokinetics, so the
    /// exposure can rise steeply just after a dose and the first half step gets a graded mesh.
    pub fn new(
        model: &Model,
        n_drugs: usize,
        graded_nodes: bool,
        settings: StochasticSettings,
    ) -> Self {
        let n = model.n_compartments();
        let mut nodes = Vec::new();
        let first = if graded_nodes { GRADED_INTERVALS } else { 1 };
        for j in 0..first {
            let grade = |x: f64| if graded_nodes { x * x } else { x };
            let a = 0.5 * grade(j as f64 / first as f64);
            let b = 0.5 * grade((j + 1) as f64 / first as f64);
            nodes.push(a);
            nodes.push(0.5 * (a + b));
        }
        let half = nodes.len();
        let second = 1;
        for j in 0..second {
            let a = 0.5 + 0.5 * j as f64 / second as f64;
            let b = 0.5 + 0.5 * (j + 1) as f64 / second as f64;
            nodes.push(a);
            nodes.push(0.5 * (a + b));
        }
        nodes.push(1.0);
        let k = nodes.len();
        let mut switching: Vec<usize> = model
            .transitions
            .iter()
            .flat_map(|t| [t.from, t.to])
            .collect();
        switching.sort_unstable();
        switching.dedup();
        let mut switch_index = vec![None; n];
        for (pos, &c) in switching.iter().enumerate() {
            switch_index[c] = Some(pos);
        }
        let m = switching.len();
        let mut mutation_share = vec![0.0; n];
        for mu in &model.mutations {
            mutation_share[mu.from] += mu.probability;
        }
        StochasticPropagator {
            settings,
            mutation_share,
            half,
            switching,
            switch_index,
            rates: model.new_rates(),
            conc: vec![0.0; n_drugs],
            log_growth: vec![0.0; n],
            predicted: vec![0.0; n],
            birth: vec![0.0; k * n],
            lambda: vec![0.0; k * n],
            mu: vec![0.0; k * n],
            switch_rate: vec![0.0; k * model.transitions.len()],
            rho: vec![0.0; k * n],
            generator: vec![0.0; m * m],
            expm: ExpmScratch::new(m),
            next: vec![0.0; n],
            nodes,
            cell: None,
            sub: 0,
        }
    }

    fn key(&self, step: u64, unit: u64, channel: u64) -> Key {
        Key {
            seed: self.settings.seed,
            rollout: self.settings.rollout,
            step,
            unit,
            channel,
        }
    }

    /// Rates at every node of a step of length `h` starting `tau0` into the exposure
    /// segment. Crowding is taken at the predicted mean state (each compartment growing at
    /// its own net rate from node to node), exposure exactly.
    fn rates_at_nodes(&mut self, model: &Model, exposure: &Exposure, tau0: f64, h: f64, n: &[f64]) {
        let nc = n.len();
        let nt = model.transitions.len();
        self.log_growth.iter_mut().for_each(|x| *x = 0.0);
        for k in 0..self.nodes.len() {
            let s = self.nodes[k] * h;
            if k > 0 {
                let ds = s - self.nodes[k - 1] * h;
                for i in 0..nc {
                    let prev = (k - 1) * nc + i;
                    self.log_growth[i] += (self.lambda[prev] - self.mu[prev]) * ds;
                }
            }
            for i in 0..nc {
                self.predicted[i] = n[i] * exp_small(self.log_growth[i]);
            }
            exposure.at(tau0 + s, &mut self.conc);
            model.rates(&self.predicted, &self.conc, &mut self.rates);
            for i in 0..nc {
                self.birth[k * nc + i] = self.rates.birth[i];
                // Divisions that yield a mutant leave the parent count unchanged.
                self.lambda[k * nc + i] = self.rates.birth[i] * (1.0 - self.mutation_share[i]);
                self.mu[k * nc + i] = self.rates.death[i];
            }
            self.switch_rate[k * nt..(k + 1) * nt].copy_from_slice(&self.rates.transition);
        }
    }

    /// Composite Simpson integral of `f(node)` over nodes `from..=to` (`to − from` even).
    fn simpson(&self, h: f64, from: usize, to: usize, f: impl Fn(usize) -> f64) -> f64 {
        let mut sum = 0.0;
        let mut k = from;
        while k + 2 <= to {
            let width = (self.nodes[k + 2] - self.nodes[k]) * h;
            sum += width / 6.0 * (f(k) + 4.0 * f(k + 1) + f(k + 2));
            k += 2;
        }
        sum
    }

    /// One step of length `h` starting `tau0` after the exposure segment's start.
    fn step(
        &mut self,
        model: &Model,
        exposure: &Exposure,
        tau0: f64,
        h: f64,
        step_id: u64,
        n: &mut [f64],
    ) {
        let nc = n.len();
        let nk = self.nodes.len();
        self.rates_at_nodes(model, exposure, tau0, h, n);

        // First half of the switching.
        if !model.transitions.is_empty() {
            self.switch(model, h, 0, self.half, n, step_id, CH_SWITCH_FIRST_HALF);
        }

        // Each compartment's own lineages: ρ at every node (a quadratic through each
        // sub-interval's ends and midpoint), then W by composite Simpson.
        for i in 0..nc {
            let mut k = 0;
            self.rho[i] = 0.0;
            while k + 2 < nk {
                let width = (self.nodes[k + 2] - self.nodes[k]) * h;
                let d = |k: usize| self.mu[k * nc + i] - self.lambda[k * nc + i];
                let (d0, d1, d2) = (d(k), d(k + 1), d(k + 2));
                let rho0 = self.rho[k * nc + i];
                self.rho[(k + 1) * nc + i] = rho0 + width / 24.0 * (5.0 * d0 + 8.0 * d1 - d2);
                self.rho[(k + 2) * nc + i] = rho0 + width / 6.0 * (d0 + 4.0 * d1 + d2);
                k += 2;
            }
            self.next[i] = if n[i] > 0.0 {
                let integral = self.simpson(h, 0, nk - 1, |k| {
                    self.lambda[k * nc + i] * exp_small(self.rho[k * nc + i])
                });
                let (alpha, beta) = lineage_law(self.rho[(nk - 1) * nc + i], integral);
                self.lineages(n[i], alpha, beta, step_id, i as u64)
            } else {
                0.0
            };
        }

        // Mutant daughters: Poisson counts with mean μ ∫ λ_from·E[N_from], each growing
        // from its birth to the end of the step at the destination's mean rates.
        for (f, m) in model.mutations.iter().enumerate() {
            if n[m.from] <= 0.0 || m.probability <= 0.0 {
                continue;
            }
            let mean = m.probability
                * n[m.from]
                * self.simpson(h, 0, nk - 1, |k| {
                    self.birth[k * nc + m.from] * exp_small(-self.rho[k * nc + m.from])
                });
            if mean.is_nan() || mean <= 0.0 {
                continue;
            }
            let unit = (nc + f) as u64;
            let arrivals = poisson(mean, &mut self.key(step_id, unit, CH_MUTANT_COUNT).stream());
            if arrivals == 0 {
                continue;
            }
            let lam = self.simpson(h, 0, nk - 1, |k| self.lambda[k * nc + m.to]) / h;
            let mu = self.simpson(h, 0, nk - 1, |k| self.mu[k * nc + m.to]) / h;
            let mut rng = self.key(step_id, unit, CH_MUTANT_GROWTH).stream();
            self.next[m.to] += grow_arrivals(arrivals, lam, mu, h, &mut rng);
        }
        n.copy_from_slice(&self.next);

        // Second half of the switching.
        if !model.transitions.is_empty() {
            self.switch(
                model,
                h,
                self.half,
                nk - 1,
                n,
                step_id,
                CH_SWITCH_SECOND_HALF,
            );
        }
    }

    /// Moves cells between compartments over nodes `from..=to`: each cell of i ends in j with
    /// probability [exp(∫Q)]_ij, drawn as a multinomial per source compartment.
    #[allow(clippy::too_many_arguments)]
    fn switch(
        &mut self,
        model: &Model,
        h: f64,
        from: usize,
        to: usize,
        n: &mut [f64],
        step_id: u64,
        channel: u64,
    ) {
        let m = self.switching.len();
        let nt = model.transitions.len();
        self.generator.iter_mut().for_each(|x| *x = 0.0);
        for (t, tr) in model.transitions.iter().enumerate() {
            let amount = self.simpson(h, from, to, |k| self.switch_rate[k * nt + t]);
            if amount > 0.0
                && let (Some(a), Some(b)) = (self.switch_index[tr.from], self.switch_index[tr.to])
            {
                self.generator[a * m + b] += amount;
                self.generator[a * m + a] -= amount;
            }
        }
        self.expm.exp(&self.generator);
        let p = &self.expm.result;
        self.next.iter_mut().for_each(|x| *x = 0.0);
        for (i, x) in n.iter().enumerate() {
            if self.switch_index[i].is_none() {
                self.next[i] = *x;
            }
        }
        for a in 0..m {
            let source = self.switching[a];
            let count = n[source] as u64;
            if count == 0 {
                continue;
            }
            let mut rng = Key {
                seed: self.settings.seed,
                rollout: self.settings.rollout,
                step: step_id,
                unit: source as u64,
                channel,
            }
            .stream();
            let mut remaining = count;
            let mut rest = 1.0;
            for b in 0..m {
                if b == a || remaining == 0 {
                    continue;
                }
                let pb = p[a * m + b];
                if pb <= 0.0 {
                    continue;
                }
                let moved = binomial(remaining, (pb / rest).min(1.0), &mut rng);
                rest -= pb;
                remaining -= moved;
                self.next[self.switching[b]] += moved as f64;
            }
            self.next[source] += remaining as f64;
        }
        n.copy_from_slice(&self.next);
    }

    /// The cells that `count` lineages leave after the step: the BNB law, or its normal
    /// approximation when the expected survivors are many.
    fn lineages(&self, count: f64, alpha: f64, beta: f64, step_id: u64, unit: u64) -> f64 {
        let survive = 1.0 - alpha;
        if count * survive > GAUSSIAN_ABOVE {
            let mut rng = self.key(step_id, unit, CH_GAUSSIAN).stream();
            return gaussian_lineages(count, alpha, beta, &mut rng);
        }
        let mut rng = self.key(step_id, unit, CH_SURVIVORS).stream();
        let survivors = binomial(count as u64, survive, &mut rng);
        if survivors == 0 || beta <= 0.0 {
            return survivors as f64;
        }
        let mut rng = self.key(step_id, unit, CH_OFFSPRING).stream();
        (survivors + negative_binomial(survivors, beta, &mut rng)) as f64
    }
}

/// exp(A) of a small dense matrix by scaling and squaring with a Taylor series.
struct ExpmScratch {
    m: usize,
    /// The last two (input, result) pairs: a step's two half-step generators alternate, so
    /// one slot would never hit; two hit on every step once the exposure repeats day by day.
    recent: [(Vec<f64>, Vec<f64>); 2],
    /// The slot the next computed result replaces (the older one).
    older: usize,
    result: Vec<f64>,
    term: Vec<f64>,
    tmp: Vec<f64>,
}

impl ExpmScratch {
    fn new(m: usize) -> Self {
        // NaN never equals anything, so the first calls always compute.
        let empty = || (vec![f64::NAN; m * m], vec![0.0; m * m]);
        ExpmScratch {
            m,
            recent: [empty(), empty()],
            older: 0,
            result: vec![0.0; m * m],
            term: vec![0.0; m * m],
            tmp: vec![0.0; m * m],
        }
    }

    /// `out = a·b` for m×m row-major matrices; small sizes get loops of constant length,
    /// which the compiler unrolls and vectorises (this product is the engine's hot spot).
    fn multiply(m: usize, a: &[f64], b: &[f64], out: &mut [f64]) {
        match m {
            2 => multiply_fixed::<2>(a, b, out),
            3 => multiply_fixed::<3>(a, b, out),
            4 => multiply_fixed::<4>(a, b, out),
            5 => multiply_fixed::<5>(a, b, out),
            6 => multiply_fixed::<6>(a, b, out),
            7 => multiply_fixed::<7>(a, b, out),
            8 => multiply_fixed::<8>(a, b, out),
            _ => {
                for (a_row, out_row) in a.chunks_exact(m).zip(out.chunks_exact_mut(m)) {
                    out_row.iter_mut().for_each(|x| *x = 0.0);
                    for (&aik, b_row) in a_row.iter().zip(b.chunks_exact(m)) {
                        for (o, &bkj) in out_row.iter_mut().zip(b_row) {
                            *o += aik * bkj;
                        }
                    }
                }
            }
        }
    }

    /// exp(`a`) into `self.result`. The last two inputs and results are kept, so steps with
    /// the same switching reuse them (bit for bit what computing again would give).
    fn exp(&mut self, a: &[f64]) {
        if let Some(k) = (0..2).find(|&k| self.recent[k].0.as_slice() == a) {
            self.result.copy_from_slice(&self.recent[k].1);
            self.older = 1 - k;
            return;
        }
        self.compute(a);
        let slot = &mut self.recent[self.older];
        slot.0.copy_from_slice(a);
        slot.1.copy_from_slice(&self.result);
        self.older = 1 - self.older;
    }

    /// exp(`a`) into `self.result`, computed: scaled until its norm ν is at most 1/8, then
    /// Taylor terms while ν^k/k! ≥ 1e-15 (at most degree 8; (1/8)⁹/9! < 1e-13), squared back.
    fn compute(&mut self, a: &[f64]) {
        let m = self.m;
        let norm = (0..m)
            .map(|i| (0..m).map(|j| a[i * m + j].abs()).sum::<f64>())
            .fold(0.0, f64::max);
        let squarings = if norm > 0.125 {
            (norm / 0.125).log2().ceil() as u32
        } else {
            0
        };
        let scale = 0.5f64.powi(squarings as i32);
        for i in 0..m * m {
            self.term[i] = a[i] * scale;
            self.result[i] = self.term[i];
        }
        for i in 0..m {
            self.result[i * m + i] += 1.0;
        }
        // `bound` ≥ the norm of the next Taylor term, ν^k / k!.
        let scaled_norm = norm * scale;
        let mut bound = scaled_norm;
        for k in 2..=8 {
            bound *= scaled_norm / k as f64;
            if bound < 1e-15 {
                break;
            }
            Self::multiply(m, &self.term, a, &mut self.tmp);
            let factor = scale / k as f64;
            for i in 0..m * m {
                self.term[i] = self.tmp[i] * factor;
                self.result[i] += self.term[i];
            }
        }
        for _ in 0..squarings {
            Self::multiply(m, &self.result, &self.result, &mut self.tmp);
            std::mem::swap(&mut self.result, &mut self.tmp);
        }
        // Probabilities: clip rounding below zero.
        for x in self.result.iter_mut() {
            *x = x.max(0.0);
        }
    }
}

fn multiply_fixed<const M: usize>(a: &[f64], b: &[f64], out: &mut [f64]) {
    let (Some(a), Some(b), Some(out)) = (a.get(..M * M), b.get(..M * M), out.get_mut(..M * M))
    else {
        return;
    };
    for i in 0..M {
        let mut row = [0.0f64; M];
        for k in 0..M {
            let aik = a[i * M + k];
            for j in 0..M {
                row[j] += aik * b[k * M + j];
            }
        }
        out[i * M..(i + 1) * M].copy_from_slice(&row);
    }
}

/// e^x, by its Taylor polynomial of degree 6 where |x| < 1/8 (relative error below
/// (1/8)⁷/7! < 1e-10, far below the quadrature's own), else by `exp`. Within a step most
/// exponents are small, and this is the engine's most frequent call.
#[inline]
fn exp_small(x: f64) -> f64 {
    if x.abs() < 0.125 {
        1.0 + x
            * (1.0
                + x / 2.0 * (1.0 + x / 3.0 * (1.0 + x / 4.0 * (1.0 + x / 5.0 * (1.0 + x / 6.0)))))
    } else {
        x.exp()
    }
}

/// (α, β) of one lineage from ρ(h) and ∫₀ʰ λ e^{ρ}: W = e^ρ + I, α = (e^ρ − 1 + I)/W,
/// β = I/W (clamped against rounding).
#[inline]
pub fn lineage_law(rho: f64, integral: f64) -> (f64, f64) {
    let em1 = rho.exp_m1();
    let w = 1.0 + em1 + integral;
    if !(w.is_finite() && w > 0.0) {
        return (1.0, 0.0);
    }
    (
        ((em1 + integral) / w).clamp(0.0, 1.0),
        (integral / w).clamp(0.0, 1.0),
    )
}

/// (α, β) for constant rates λ, μ over time τ.
#[inline]
pub fn constant_rate_law(lambda: f64, mu: f64, tau: f64) -> (f64, f64) {
    let x = (mu - lambda) * tau;
    // ∫₀^τ λ e^{(μ−λ)s} ds = λτ·(e^x − 1)/x.
    let integral = if x.abs() < 1e-12 {
        lambda * tau
    } else {
        lambda * tau * x.exp_m1() / x
    };
    lineage_law(x, integral)
}

/// Normal approximation of N lineages: exact mean N(1−α)/(1−β) and variance
/// N(1−α)(α+β)/(1−β)².
fn gaussian_lineages(count: f64, alpha: f64, beta: f64, rng: &mut Stream) -> f64 {
    let q = 1.0 - beta;
    let mean = count * (1.0 - alpha) / q;
    let var = count * (1.0 - alpha) * (alpha + beta) / (q * q);
    let z: f64 = StandardNormal.sample(rng);
    (mean + var.sqrt() * z).round().max(0.0)
}

fn binomial(n: u64, p: f64, rng: &mut Stream) -> u64 {
    if p >= 1.0 {
        return n;
    }
    if p <= 0.0 || n == 0 {
        return 0;
    }
    let nf = n as f64;
    if nf * p * (1.0 - p) > BINOMIAL_NORMAL_ABOVE_VARIANCE {
        let z: f64 = StandardNormal.sample(rng);
        return (nf * p + (nf * p * (1.0 - p)).sqrt() * z)
            .round()
            .clamp(0.0, nf) as u64;
    }
    match Binomial::new(n, p) {
        Ok(d) => d.sample(rng),
        Err(_) => (n as f64 * p).round() as u64,
    }
}

/// Failures before `k` successes with failure probability `beta`.
fn negative_binomial(k: u64, beta: f64, rng: &mut Stream) -> u64 {
    if beta <= 0.0 {
        return 0;
    }
    let q = 1.0 - beta;
    if k <= 8 {
        return match Geometric::new(q) {
            Ok(g) => (0..k).map(|_| g.sample(rng)).sum(),
            Err(_) => 0,
        };
    }
    // Gamma–Poisson mixture: NB(k, q) = Poisson(Gamma(k, β/q)).
    match Gamma::new(k as f64, beta / q) {
        Ok(g) => poisson(g.sample(rng), rng),
        Err(_) => 0,
    }
}

/// Poisson draws, with the normal law for very large means (relative skewness < 0.3 %).
fn poisson(mean: f64, rng: &mut Stream) -> u64 {
    if mean.is_nan() || mean <= 0.0 {
        return 0;
    }
    if mean > GAUSSIAN_ABOVE {
        let z: f64 = StandardNormal.sample(rng);
        return (mean + mean.sqrt() * z).round().max(0.0) as u64;
    }
    match Poisson::new(mean) {
        Ok(d) => {
            let x: f64 = d.sample(rng);
            x as u64
        }
        Err(_) => mean.round() as u64,
    }
}

/// `m` cells arriving at uniform times within a step of length `h`, each then following a
/// birth–death process (λ, μ) to the end of the step.
fn grow_arrivals(m: u64, lambda: f64, mu: f64, h: f64, rng: &mut Stream) -> f64 {
    if m <= SINGLE_ARRIVALS {
        let mut total = 0u64;
        for _ in 0..m {
            let remaining = h * rng.random::<f64>();
            let (alpha, beta) = constant_rate_law(lambda, mu, remaining);
            if rng.random::<f64>() >= alpha {
                total += 1;
                if beta > 0.0
                    && let Ok(g) = Geometric::new(1.0 - beta)
                {
                    total += g.sample(rng);
                }
            }
        }
        return total as f64;
    }
    // Many arrivals: treat them as arriving together half-way through the step.
    let (alpha, beta) = constant_rate_law(lambda, mu, 0.5 * h);
    let survivors = binomial(m, 1.0 - alpha, rng);
    if survivors as f64 > GAUSSIAN_ABOVE {
        return gaussian_lineages(m as f64, alpha, beta, rng);
    }
    (survivors + negative_binomial(survivors, beta, rng)) as f64
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
        let dt = self.settings.step;
        let end = t0 + span;
        let tiny = 1e-9 * dt;
        let mut t = t0;
        while t < end - tiny {
            let cell = ((t + tiny) / dt).floor().max(0.0) as u64;
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
            self.step(model, exposure, t - t0, t1 - t, step_id, state);
            if state.iter().any(|x| !x.is_finite()) {
                return Err(crate::error::Error::engine(t, "a count became non-finite"));
            }
            t = t1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_small_is_accurate() {
        for i in -200..=200 {
            let x = i as f64 / 1000.0;
            assert!((exp_small(x) / x.exp() - 1.0).abs() < 1e-10, "{x}");
        }
    }

    #[test]
    fn constant_law_matches_closed_form() {
        // α = μ(e^{rt} − 1)/(λe^{rt} − μ), β = λ(e^{rt} − 1)/(λe^{rt} − μ), r = λ − μ.
        let (l, m, t): (f64, f64, f64) = (0.3, 0.1, 2.0);
        let e = ((l - m) * t).exp();
        let (a, b) = constant_rate_law(l, m, t);
        assert!((a - m * (e - 1.0) / (l * e - m)).abs() < 1e-14);
        assert!((b - l * (e - 1.0) / (l * e - m)).abs() < 1e-14);
        // Pure death: survival e^{−μt}, no offspring.
        let (a, b) = constant_rate_law(0.0, 0.2, 3.0);
        assert!((1.0 - a - (-0.6f64).exp()).abs() < 1e-14);
        assert_eq!(b, 0.0);
    }
}
