//! Per-step kernels: everything one step of the stochastic engine needs that does not depend
//! on a rollout's counts, computed once per (model, exposure state, step) and shared by every
//! rollout that takes that step.
//!
//! The rates of compartment i over a step depend on the exposure (through the drugs'
//! response curves) and on the state only through one crowding scalar x_i
//! ([`Model::crowding`]): the net growth is `growth(s) − x·crowding(s)` ([`RateParts`]). A
//! kernel integrates the exposure-dependent parts over the step's quadrature nodes at a
//! reference x₀ (the lower edge of the bucket the rollout's x falls in) and keeps the Taylor
//! coefficients in δ = x − x₀ of the two integrals of Kendall's law, so a rollout evaluates
//! its law with a few multiplications. Where the expansion does not hold (x outside the
//! bucket's reach, or births and deaths trading places within the step) the law is
//! integrated at x itself from the kernel's node values, as the engine did before kernels.
//!
//! Kernels live in a per-thread cache keyed by digests of the model, the exposure state, the
//! step's start within its exposure segment, its length and the crowding buckets. A kernel
//! is a deterministic function of its key, so the cache changes the speed and never a number:
//! results do not depend on which rollout built a kernel, on the thread, or on evictions.

// Node buffers are indexed by node and compartment together; index loops read clearest.
#![allow(clippy::needless_range_loop)]

use crate::model::pk::Exposure;
use crate::model::{Model, RateParts};
use crate::support::rng::mix64;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// Taylor coefficients kept per integral: the expansion in t = δ·E₁(h) is truncated after
/// δ⁵, a relative error below |t|⁶/6! (< 1.4e-9 within [`EXPANSION_LIMIT`], < 6e-12 within a
/// bucket). A rollout sums all of them (see [`Kernel::law`], whose powers of δ assume six).
const TERMS: usize = 6;
/// Coefficients of a law's polynomials in δ (degree 7: e^{ρ} − 1's series in δ·E₁).
pub(super) const POWERS: usize = 8;
/// Width of a crowding bucket, as the change of ∫(crowding) × δ it spans over a step at the
/// intrinsic rates: rollouts whose x falls in one bucket share a kernel.
const BUCKET_SPAN: f64 = 0.04;
/// The expansion is used while |δ|·E₁(h) stays below this (the step's midpoint state may sit
/// a little outside its start's bucket); beyond it the law is integrated at x.
const EXPANSION_LIMIT: f64 = 0.1;
/// Largest number of quadrature nodes (the exact fallback keeps its buffers on the stack).
pub(super) const MAX_NODES: usize = 16;
/// Kernels one thread keeps before it starts afresh (a few kilobytes each).
const MAX_KERNELS: usize = 8192;
/// Keys asked for once that one thread remembers before it starts afresh.
const MAX_SEEN: usize = 1 << 16;
/// Sub-intervals of the first half step on the graded mesh used with pharmacokinetic drugs
/// (the second half is smooth and gets one).
const GRADED_INTERVALS: usize = 2;

/// Quadrature nodes within a step, as fractions of it: ends and midpoints of the
/// sub-intervals, graded towards the step start when a drug has pharmacokinetics (the
/// absorption peak of an oral dose comes within hours of it).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Nodes {
    pub at: Vec<f64>,
    /// Index of the node at 1/2.
    pub half: usize,
}

impl Nodes {
    pub fn new(graded: bool) -> Self {
        let mut at = Vec::new();
        let first = if graded { GRADED_INTERVALS } else { 1 };
        let grade = |x: f64| if graded { x * x } else { x };
        for j in 0..first {
            let a = 0.5 * grade(j as f64 / first as f64);
            let b = 0.5 * grade((j + 1) as f64 / first as f64);
            at.push(a);
            at.push(0.5 * (a + b));
        }
        let half = at.len();
        at.push(0.5);
        at.push(0.75);
        at.push(1.0);
        Nodes { at, half }
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Composite Simpson integral over a step of length `h` of the node values `f(k)`,
    /// nodes `from..=to` (`to − from` even).
    #[inline]
    pub fn simpson(&self, h: f64, from: usize, to: usize, f: impl Fn(usize) -> f64) -> f64 {
        let mut sum = 0.0;
        let mut k = from;
        while k + 2 <= to {
            let width = (self.at[k + 2] - self.at[k]) * h;
            sum += width / 6.0 * (f(k) + 4.0 * f(k + 1) + f(k + 2));
            k += 2;
        }
        sum
    }

    /// The running integral of `f` from the step start to every node (a quadratic through
    /// each sub-interval's ends and midpoint), into `out`.
    #[inline]
    pub fn cumulative(&self, h: f64, f: impl Fn(usize) -> f64, out: &mut [f64]) {
        out[0] = 0.0;
        let mut k = 0;
        while k + 2 < self.at.len() {
            let width = (self.at[k + 2] - self.at[k]) * h;
            let (f0, f1, f2) = (f(k), f(k + 1), f(k + 2));
            out[k + 1] = out[k] + width / 24.0 * (5.0 * f0 + 8.0 * f1 - f2);
            out[k + 2] = out[k] + width / 6.0 * (f0 + 4.0 * f1 + f2);
            k += 2;
        }
    }
}

/// Which side of zero a compartment's net growth stays on through a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Regime {
    /// Net growth ≥ 0 at every node: births `growth − x·crowding`, deaths `loss`.
    Growing,
    /// Net growth ≤ 0 at every node: no births, deaths `loss − growth + x·crowding`.
    Shrinking,
    /// The sign changes within the step: integrated at x each time.
    Mixed,
}

/// One compartment's part of a kernel.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lineage {
    regime: Regime,
    /// The reference crowding scalar.
    pub x0: f64,
    /// The crowding scalars at which the law comes from the expansion: `regime` holds at
    /// every node and |δ|·E₁(h) ≤ [`EXPANSION_LIMIT`] (empty for the mixed regime).
    pub near: (f64, f64),
    /// The law at x₀ + δ as polynomials in δ (coefficients of δ⁰ … δ⁷; see [`Kernel::law`]):
    /// e^{ρ(h)} − 1, ∫ λe^ρ, and ∫ (all divisions)·e^{−ρ} (the mean divisions of one
    /// starting cell's lineage, for mutations; zero where the compartment makes none).
    pub em1: [f64; POWERS],
    pub integral: [f64; POWERS],
    pub divisions: [f64; POWERS],
    /// e^{−ρ} at the half step (the midpoint prediction of crowding) as a polynomial in δ
    /// over `shrink_near`, and ρ₀ and E₁ at the half step for crowding beyond it.
    pub shrink: [f64; POWERS],
    pub shrink_near: (f64, f64),
    rho0_half: f64,
    e1_half: f64,
    /// ∫ growth, ∫ crowding and ∫ loss over the step.
    int_growth: f64,
    int_crowding: f64,
    int_loss: f64,
}

/// Kendall's law of one compartment over a step at one crowding scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Law {
    /// e^{ρ(h)} − 1.
    pub em1: f64,
    /// ∫₀ʰ λ e^{ρ}.
    pub integral: f64,
    /// ∫₀ʰ (all divisions)·e^{−ρ}: divisions per starting cell, for mutations (0 for a
    /// compartment that makes no mutants, where it is not needed).
    pub divisions: f64,
}

/// The exposure of one step at its quadrature nodes, as the values of the model's response
/// curves: the costly part of a kernel (pharmacokinetics and Hill powers), which depends on
/// the drugs and the curves' shapes but not on the rest of the model, so virtual patients
/// whose rates differ still share it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile {
    /// Per node and shape (row-major by node).
    shape_values: Vec<f64>,
}

impl Profile {
    /// The profile of a step of length `h` starting `tau0` into the exposure segment.
    pub fn build(model: &Model, nodes: &Nodes, exposure: &Exposure, tau0: f64, h: f64) -> Self {
        let ns = model.shapes.len();
        let mut conc = vec![0.0; exposure.n_drugs()];
        let mut shape_values = vec![0.0; nodes.len() * ns];
        for k in 0..nodes.len() {
            exposure.at(tau0 + nodes.at[k] * h, &mut conc);
            model.shape_values(&conc, &mut shape_values[k * ns..(k + 1) * ns]);
        }
        Profile { shape_values }
    }
}

/// Everything about one step that does not depend on a rollout's counts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Kernel {
    h: f64,
    /// Per compartment (read by the lanes' joint step, `stochastic/lanes.rs`).
    pub lineages: Vec<Lineage>,
    /// Per node and compartment (row-major by node): growth, then crowding, then loss, each
    /// block `nodes × compartments` long (one allocation for the three).
    node_rates: Vec<f64>,
    /// The switching law over the step, shared among kernels whose models switch alike.
    pub switching: Rc<Switching>,
}

/// The switching law over a step: it depends on the model only through its transitions
/// (and the response curves they use), so virtual patients whose drawn parameters leave
/// the transitions alone share it (see [`Kernel::build`]).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Switching {
    /// The law (see [`switching_members`]) as the matrix P = exp(∫Q) over the members.
    pub matrix: Vec<f64>,
    /// The same law as a step that is not a joint one draws it: per source member, the
    /// probability that a cell leaves it; and per source, for each other member in order,
    /// the probability that a cell that leaves ends there given that it is in none of the
    /// members before (conditional probabilities of a multinomial split) and the cumulative
    /// share of the leavers up to there (for a split cell by cell). From the last member
    /// with any share on, both are 1, so no cell lands where none can.
    pub leave: Vec<f64>,
    pub split: Vec<f64>,
    pub cumulative: Vec<f64>,
    /// Per source member a, two packed lower triangles (row b, columns c ≤ b, m(m+1)/2
    /// entries each): diag(p_a) − p_a·p_aᵀ, the covariance of one cell's switching, then
    /// p_a·p_aᵀ, over which the variance of a lineage grown before it switches spreads
    /// (p_a row a of `matrix`). The joint step's covariance is a sum of these.
    pub moments: Vec<f64>,
}

/// [`Switching::moments`] of the m×m switching matrix `p`.
fn switch_moments(p: &[f64], m: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(m * m * (m + 1));
    for row in p.chunks_exact(m.max(1)).take(m) {
        for b in 0..m {
            for c in 0..=b {
                let diagonal = if b == c { row[b] } else { 0.0 };
                out.push(diagonal - row[b] * row[c]);
            }
        }
        for b in 0..m {
            for c in 0..=b {
                out.push(row[b] * row[c]);
            }
        }
    }
    out
}

/// The compartments that take part in switching, in the order a step draws their moves: every
/// cell of a member ends the step in member j with probability [exp(∫Q)]_ij (Q the switching
/// generator), drawn per source as a multinomial (see [`Switching`]), so cells that switch
/// twice within a step are counted right.
pub(super) fn switching_members(model: &Model) -> Vec<usize> {
    let mut members: Vec<usize> = model
        .transitions
        .iter()
        .flat_map(|t| [t.from, t.to])
        .collect();
    members.sort_unstable();
    members.dedup();
    members
}

/// What a kernel is built from besides the exposure: fixed for a propagator.
pub(super) struct Context<'a> {
    pub model: &'a Model,
    pub nodes: &'a Nodes,
    /// The switching compartments ([`switching_members`]).
    pub members: &'a [usize],
    /// Σ_j μ_ij per compartment: the share of divisions that yield a mutant daughter.
    pub mutation_share: &'a [f64],
}

impl Kernel {
    /// The kernel of a step of length `h` starting `tau0` into the exposure segment, with
    /// crowding reference `x0` per compartment. Its switching law is the cached one of
    /// `switch_key` (the model's switching digest with the profile's key), built here if
    /// this thread does not hold it.
    pub fn build(
        cx: &Context,
        profile: &Profile,
        h: f64,
        x0: &[f64],
        switch_key: KernelKey,
    ) -> Kernel {
        let model = cx.model;
        let nodes = cx.nodes;
        let (nc, nk, nt) = (model.n_compartments(), nodes.len(), model.transitions.len());
        let ns = model.shapes.len();
        let block = nk * nc;
        let mut node_rates = vec![0.0; 3 * block];
        let switching = SCRATCH.with(|scratch| {
            let scratch = &mut *scratch.borrow_mut();
            let parts = &mut scratch.parts;
            if parts.growth.len() != nc
                || parts.transition.len() != nt
                || parts.shape_values.len() != ns
            {
                *parts = model.new_rate_parts();
            }
            let switching = &mut scratch.switching;
            switching.clear();
            switching.resize(nk * nt, 0.0);
            for k in 0..nk {
                parts
                    .shape_values
                    .copy_from_slice(&profile.shape_values[k * ns..(k + 1) * ns]);
                model.rate_parts_from_shapes(parts);
                let row = k * nc..(k + 1) * nc;
                node_rates[row.clone()].copy_from_slice(&parts.growth);
                node_rates[block..][row.clone()].copy_from_slice(&parts.crowding);
                node_rates[2 * block..][row].copy_from_slice(&parts.loss);
                switching[k * nt..(k + 1) * nt].copy_from_slice(&parts.transition);
            }
            let rates = &scratch.switching;
            let expm = &mut scratch.expm;
            lookup(&SWITCHES, switch_key, || {
                let matrix = switching_law(cx, h, 0, nk - 1, |k, t| rates[k * nt + t], expm);
                let moments = switch_moments(&matrix, cx.members.len());
                let (leave, split, cumulative) = leaving_law(&matrix, cx.members.len());
                Switching {
                    matrix,
                    leave,
                    split,
                    cumulative,
                    moments,
                }
            })
        });
        let (growth, rest) = node_rates.split_at(block);
        let (crowding, loss) = rest.split_at(block);
        let lineages = (0..nc)
            .map(|i| {
                let at = |v: &[f64], k: usize| v[k * nc + i];
                let share = cx.mutation_share[i];
                // A compartment's part is a function of its node rates (and x₀, the share,
                // h and the mesh): cached on those, it is shared by every model in which
                // this compartment's rates are the same — virtual patients who differ
                // elsewhere, and compartments alike within one model.
                let key = lineage_key(nodes, h, x0[i], share, |k| {
                    [at(growth, k), at(crowding, k), at(loss, k)]
                });
                let part = lookup(&LINEAGES, key, || {
                    lineage(
                        nodes,
                        h,
                        x0[i],
                        share,
                        |k| at(growth, k),
                        |k| at(crowding, k),
                        |k| at(loss, k),
                    )
                });
                (*part).clone()
            })
            .collect();
        Kernel {
            h,
            lineages,
            node_rates,
            switching,
        }
    }

    /// The predicted mean growth e^{−ρ} to the half step of compartment `i` at crowding
    /// `x` (a first-order prediction of ρ: it only places the crowding of the step's
    /// midpoint), as e^{−ρ₀}·e^{−u} with u = δ·E₁: a quintic in u where |u| < 1/8 (relative
    /// error below (1/8)⁶/6! < 6e-9, far under the prediction's own), else `exp`.
    #[inline]
    pub fn shrink_half(&self, i: usize, x: f64) -> f64 {
        let l = &self.lineages[i];
        let d = x - l.x0;
        if x > l.shrink_near.0 && x < l.shrink_near.1 {
            polynomial(&l.shrink, &powers(d))
        } else {
            (-(l.rho0_half + d * l.e1_half)).exp()
        }
    }

    /// Whether compartment `i`'s law at crowding `x` comes from the expansion (else it is
    /// integrated from the node values).
    #[inline]
    fn expands(&self, i: usize, x: f64) -> bool {
        let l = &self.lineages[i];
        x >= l.near.0 && x <= l.near.1
    }

    /// Kendall's law of compartment `i` over the step at crowding `x` (`None`: a Gompertz
    /// compartment with nothing to crowd it, which does not grow).
    #[inline]
    pub fn law(&self, nodes: &Nodes, i: usize, x: Option<f64>, share: f64) -> Law {
        let l = &self.lineages[i];
        let Some(x) = x else {
            return Law {
                em1: l.int_loss.exp_m1(),
                integral: 0.0,
                divisions: 0.0,
            };
        };
        if !self.expands(i, x) {
            return self.exact(nodes, i, x, share).0;
        }
        // Powers of δ once for the three polynomials, all terms summed: terms below 1e-13
        // cost less than the mispredicted branches of choosing how many to sum, and a
        // shrinking compartment's zero births are zero coefficients, not a branch.
        let power = powers(x - l.x0);
        Law {
            em1: polynomial(&l.em1, &power),
            integral: polynomial(&l.integral, &power),
            divisions: polynomial(&l.divisions, &power),
        }
    }

    /// The mean λ and μ over the step of compartment `i` at crowding `x`, for cells that
    /// arrive within it (asked only when mutants arrive, which most steps have none of).
    pub fn mean_rates(&self, nodes: &Nodes, i: usize, x: Option<f64>, share: f64) -> (f64, f64) {
        let l = &self.lineages[i];
        let Some(x) = x else {
            return (0.0, l.int_loss / self.h);
        };
        if !self.expands(i, x) {
            return self.exact(nodes, i, x, share).1;
        }
        if l.regime == Regime::Shrinking {
            return (
                0.0,
                (l.int_loss - l.int_growth + x * l.int_crowding) / self.h,
            );
        }
        (
            (1.0 - share) * (l.int_growth - x * l.int_crowding) / self.h,
            l.int_loss / self.h,
        )
    }

    /// The law at `x` integrated from the node values (rates split into births and deaths
    /// node by node), and the mean λ and μ over the step.
    fn exact(&self, nodes: &Nodes, i: usize, x: f64, share: f64) -> (Law, (f64, f64)) {
        let nc = self.lineages.len();
        let nk = nodes.len();
        let h = self.h;
        let mut birth = [0.0; MAX_NODES];
        let mut lambda = [0.0; MAX_NODES];
        let mut mu = [0.0; MAX_NODES];
        let mut rho = [0.0; MAX_NODES];
        let block = nk * nc;
        let (growth, crowding, loss) = (
            &self.node_rates[..block],
            &self.node_rates[block..2 * block],
            &self.node_rates[2 * block..],
        );
        for k in 0..nk {
            let net = growth[k * nc + i] - x * crowding[k * nc + i];
            birth[k] = net.max(0.0);
            lambda[k] = birth[k] * (1.0 - share);
            mu[k] = (-net).max(0.0) + loss[k * nc + i];
        }
        nodes.cumulative(h, |k| mu[k] - lambda[k], &mut rho);
        let law = Law {
            em1: rho[nk - 1].exp_m1(),
            integral: nodes.simpson(h, 0, nk - 1, |k| lambda[k] * rho[k].exp()),
            divisions: if share > 0.0 {
                nodes.simpson(h, 0, nk - 1, |k| birth[k] * (-rho[k]).exp())
            } else {
                0.0
            },
        };
        (
            law,
            (
                nodes.simpson(h, 0, nk - 1, |k| lambda[k]) / h,
                nodes.simpson(h, 0, nk - 1, |k| mu[k]) / h,
            ),
        )
    }
}

/// Over nodes `from..=to`: P = exp(∫Q) over the members.
fn switching_law(
    cx: &Context,
    h: f64,
    from: usize,
    to: usize,
    rate: impl Fn(usize, usize) -> f64,
    scratch: &mut ExpmScratch,
) -> Vec<f64> {
    let members = cx.members;
    let m = members.len();
    let position = |c: usize| members.iter().position(|&x| x == c);
    let generator = &mut scratch.generator;
    generator.clear();
    generator.resize(m * m, 0.0);
    for (t, tr) in cx.model.transitions.iter().enumerate() {
        let amount = cx.nodes.simpson(h, from, to, |k| rate(k, t));
        if let (Some(a), Some(b)) = (position(tr.from), position(tr.to))
            && amount > 0.0
        {
            generator[a * m + b] += amount;
            generator[a * m + a] -= amount;
        }
    }
    let generator = std::mem::take(&mut scratch.generator);
    let p = expm(&generator, m, scratch);
    scratch.generator = generator;
    p
}

/// [`Switching::leave`], [`Switching::split`] and [`Switching::cumulative`] of the m×m
/// switching matrix `p`. A source's leaving probability is the sum of its row off the
/// diagonal (not 1 − p_aa, which would lose a small one to rounding).
fn leaving_law(p: &[f64], m: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let others = m.saturating_sub(1);
    let mut leave = Vec::with_capacity(m);
    let mut split = Vec::with_capacity(m * others);
    let mut cumulative = Vec::with_capacity(m * others);
    for a in 0..m {
        let row = &p[a * m..(a + 1) * m];
        let shares: Vec<f64> = (0..m).filter(|&b| b != a).map(|b| row[b]).collect();
        let total: f64 = shares.iter().sum();
        leave.push(total.clamp(0.0, 1.0));
        let last = shares.iter().rposition(|&x| x > 0.0);
        let (mut rest, mut sum) = (total, 0.0);
        for (b, &x) in shares.iter().enumerate() {
            sum += x;
            let beyond = last.is_none_or(|last| b >= last);
            split.push(if beyond {
                1.0
            } else if rest > 0.0 {
                (x / rest).clamp(0.0, 1.0)
            } else {
                0.0
            });
            cumulative.push(if beyond {
                1.0
            } else {
                (sum / total).clamp(0.0, 1.0)
            });
            rest -= x;
        }
    }
    (leave, split, cumulative)
}

/// exp(A) of a small dense m×m matrix by scaling and squaring with a Taylor series: scaled
/// until its norm ν is at most 1/8, then Taylor terms while ν^k/k! ≥ 1e-16 (at most degree
/// 10), squared back; entries clipped at zero (they are probabilities).
fn expm(a: &[f64], m: usize, scratch: &mut ExpmScratch) -> Vec<f64> {
    // out = x·y for m×m row-major matrices.
    let multiply = |x: &[f64], y: &[f64], out: &mut [f64]| {
        out.iter_mut().for_each(|o| *o = 0.0);
        for i in 0..m {
            for k in 0..m {
                let xik = x[i * m + k];
                for j in 0..m {
                    out[i * m + j] += xik * y[k * m + j];
                }
            }
        }
    };
    let norm = (0..m)
        .map(|i| (0..m).map(|j| a[i * m + j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let squarings = if norm > 0.125 {
        (norm / 0.125).log2().ceil() as i32
    } else {
        0
    };
    let scale = 0.5f64.powi(squarings);
    let ExpmScratch {
        scaled, term, tmp, ..
    } = scratch;
    for buffer in [&mut *scaled, &mut *term, &mut *tmp] {
        buffer.clear();
        buffer.resize(m * m, 0.0);
    }
    for (s, x) in scaled.iter_mut().zip(a) {
        *s = x * scale;
    }
    let mut result = scaled.clone();
    for i in 0..m {
        result[i * m + i] += 1.0;
    }
    term.copy_from_slice(scaled);
    let nu = norm * scale;
    let mut bound = nu;
    for k in 2..=10 {
        bound *= nu / k as f64;
        if bound < 1e-16 {
            break;
        }
        multiply(term, scaled, tmp);
        for ((t, r), x) in term.iter_mut().zip(result.iter_mut()).zip(tmp.iter()) {
            *t = x / k as f64;
            *r += *t;
        }
    }
    for _ in 0..squarings {
        multiply(&result, &result, tmp);
        result.copy_from_slice(tmp);
    }
    result.iter_mut().for_each(|x| *x = x.max(0.0));
    result
}

/// Buffers the matrix exponential reuses from one kernel to the next.
#[derive(Default)]
struct ExpmScratch {
    generator: Vec<f64>,
    scaled: Vec<f64>,
    term: Vec<f64>,
    tmp: Vec<f64>,
}

/// Buffers a kernel's construction reuses (one set per thread).
#[derive(Default)]
struct Scratch {
    parts: RateParts,
    switching: Vec<f64>,
    expm: ExpmScratch,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The interval of x over which p_k − x·q_k ≥ 0 at every node k (`line(k)` = (p_k, q_k));
/// empty (hi = −∞) when no x will do.
fn nonnegative_over(nk: usize, line: impl Fn(usize) -> (f64, f64)) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    for k in 0..nk {
        let (p, q) = line(k);
        if q > 0.0 {
            hi = hi.min(p / q);
        } else if q < 0.0 {
            lo = lo.max(p / q);
        } else if p < 0.0 {
            hi = f64::NEG_INFINITY;
        }
    }
    (lo, hi)
}

/// One compartment's kernel at reference `x0` from its node values.
fn lineage(
    nodes: &Nodes,
    h: f64,
    x0: f64,
    share: f64,
    growth: impl Fn(usize) -> f64,
    crowding: impl Fn(usize) -> f64,
    loss: impl Fn(usize) -> f64,
) -> Lineage {
    let nk = nodes.len();
    // The crowding scalars at which the net growth keeps one sign at every node.
    let (grow_lo, grow_hi) = nonnegative_over(nk, |k| (growth(k), crowding(k)));
    let (shrink_lo, shrink_hi) = nonnegative_over(nk, |k| (-growth(k), -crowding(k)));
    let (regime, mut lo, mut hi) = if (grow_lo..=grow_hi).contains(&x0) {
        (Regime::Growing, grow_lo, grow_hi)
    } else if (shrink_lo..=shrink_hi).contains(&x0) {
        (Regime::Shrinking, shrink_lo, shrink_hi)
    } else {
        (Regime::Mixed, f64::INFINITY, f64::NEG_INFINITY)
    };
    // μ − λ = e0 + x·e1 at each node, by regime (the mixed one is never expanded; its
    // values here only place the midpoint).
    let kept = if regime == Regime::Shrinking {
        1.0
    } else {
        1.0 - share
    };
    let e0 = |k: usize| loss(k) - kept * growth(k);
    let e1 = |k: usize| kept * crowding(k);
    let (mut big_e0, mut big_e1) = ([0.0; MAX_NODES], [0.0; MAX_NODES]);
    nodes.cumulative(h, e0, &mut big_e0);
    nodes.cumulative(h, e1, &mut big_e1);
    let rho0 = |k: usize| big_e0[k] + x0 * big_e1[k];
    let mut u = [0.0; TERMS];
    let mut v = [0.0; TERMS];
    let mut bu = [0.0; TERMS];
    let mut bv = [0.0; TERMS];
    if regime == Regime::Growing {
        // Node values computed once: e^{±ρ₀}, births at x₀ and the running powers of E₁.
        let mut up = [0.0; MAX_NODES];
        let mut vp = [0.0; MAX_NODES];
        let mut bup = [0.0; MAX_NODES];
        let mut bvp = [0.0; MAX_NODES];
        for k in 0..nk {
            let (e, births) = (rho0(k).exp(), growth(k) - x0 * crowding(k));
            up[k] = e * (1.0 - share) * births;
            vp[k] = e * (1.0 - share) * crowding(k);
            bup[k] = births / e;
            bvp[k] = crowding(k) / e;
        }
        for j in 0..TERMS {
            u[j] = nodes.simpson(h, 0, nk - 1, |k| up[k]);
            v[j] = nodes.simpson(h, 0, nk - 1, |k| vp[k]);
            bu[j] = nodes.simpson(h, 0, nk - 1, |k| bup[k]);
            bv[j] = nodes.simpson(h, 0, nk - 1, |k| bvp[k]);
            for k in 0..nk {
                up[k] *= big_e1[k];
                vp[k] *= big_e1[k];
                bup[k] *= -big_e1[k];
                bvp[k] *= -big_e1[k];
            }
        }
        // Divided by j! here, so a rollout's series needs no division.
        let mut factorial = 1.0;
        for j in 0..TERMS {
            factorial *= j.max(1) as f64;
            for c in [&mut u, &mut v, &mut bu, &mut bv] {
                c[j] /= factorial;
            }
        }
    }
    if share <= 0.0 {
        (bu, bv) = ([0.0; TERMS], [0.0; TERMS]);
    }
    // The expansion holds while |δ|·E₁(h) ≤ EXPANSION_LIMIT as well.
    let e1_h = big_e1[nk - 1];
    if e1_h != 0.0 {
        let reach = EXPANSION_LIMIT / e1_h.abs();
        (lo, hi) = (lo.max(x0 - reach), hi.min(x0 + reach));
    }
    // e^{ρ(h)} − 1 = e^{ρ₀} − 1 + e^{ρ₀}·(e^{δ·E₁} − 1), the last by its Taylor series of
    // degree 7 (relative error below (1/8)⁷/8! < 2e-11 for |δ·E₁| ≤ 1/8).
    let em1_0 = rho0(nk - 1).exp_m1();
    let mut em1 = taylor_exp(e1_h, 1.0 + em1_0);
    em1[0] = em1_0;
    // ∫ λe^ρ = Σ_j δʲ·(u_j − δ·v_j), likewise the divisions, as coefficients of δᵏ.
    let shifted = |u: &[f64; TERMS], v: &[f64; TERMS]| {
        let mut c = [0.0; POWERS];
        for k in 0..=TERMS {
            c[k] = u.get(k).copied().unwrap_or(0.0) - k.checked_sub(1).map_or(0.0, |j| v[j]);
        }
        c
    };
    // e^{−ρ(h/2)} = e^{−ρ₀}·e^{−δ·E₁} by the series of degree 5 while |δ·E₁| < 1/8 (relative
    // error below (1/8)⁶/6!·e^{1/8} < 6e-9, far under the midpoint prediction's own).
    let (rho0_half, e1_half) = (rho0(nodes.half), big_e1[nodes.half]);
    let mut shrink = taylor_exp(-e1_half, (-rho0_half).exp());
    shrink[6..].fill(0.0);
    let reach_half = if e1_half != 0.0 {
        0.125 / e1_half.abs()
    } else {
        f64::INFINITY
    };
    Lineage {
        regime,
        x0,
        near: (lo, hi),
        em1,
        integral: shifted(&u, &v),
        divisions: shifted(&bu, &bv),
        shrink,
        shrink_near: (x0 - reach_half, x0 + reach_half),
        rho0_half,
        e1_half,
        int_growth: nodes.simpson(h, 0, nk - 1, &growth),
        int_crowding: nodes.simpson(h, 0, nk - 1, &crowding),
        int_loss: nodes.simpson(h, 0, nk - 1, &loss),
    }
}

/// The coefficients of `scale`·e^{δ·`rate`} in δ, to degree 7.
fn taylor_exp(rate: f64, scale: f64) -> [f64; POWERS] {
    let mut c = [0.0; POWERS];
    let mut term = scale;
    for (k, c) in c.iter_mut().enumerate() {
        *c = term;
        term *= rate / (k + 1) as f64;
    }
    c
}

/// δ⁰ … δ⁷.
#[inline(always)]
fn powers(d: f64) -> [f64; POWERS] {
    let d2 = d * d;
    let d3 = d2 * d;
    let d4 = d2 * d2;
    [1.0, d, d2, d3, d4, d4 * d, d4 * d2, d4 * d3]
}

/// Σ c_k·δᵏ from the powers of δ: independent products summed pairwise (Horner's chain
/// is longer; these products also run two to an instruction).
#[inline(always)]
fn polynomial(c: &[f64; POWERS], power: &[f64; POWERS]) -> f64 {
    let t: [f64; POWERS] = std::array::from_fn(|k| c[k] * power[k]);
    ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]))
}

/// e^t − 1 for |t| ≤ 1/8, by its Taylor polynomial of degree 7 (relative error below
/// (1/8)⁷/8! < 2e-11; within the expansion's |t| ≤ 0.1, below 3e-12).
#[inline]
pub(super) fn expm1_series(t: f64) -> f64 {
    // Coefficients 1/k!: multiplications only (a division in this chain costs a dozen cycles).
    const C: [f64; 7] = [
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
    ];
    // Estrin's scheme: the same polynomial in three short chains instead of Horner's one
    // long one (a step evaluates ten of these, and their latency showed in profiles).
    let t2 = t * t;
    let t4 = t2 * t2;
    t * ((C[0] + t * C[1]) + t2 * (C[2] + t * C[3]) + t4 * ((C[4] + t * C[5]) + t2 * C[6]))
}

/// The bucket of crowding scalar `x` and its reference, the bucket's lower edge (a centre
/// could lie beyond the carrying capacity, where the growth regime differs): buckets are
/// [`BUCKET_SPAN`] wide in δ·∫crowding at the intrinsic rates.
#[inline]
pub(super) fn bucket(x: Option<f64>, width: f64, inverse: f64) -> (i64, f64) {
    match x {
        None => (i64::MIN, 0.0),
        Some(_) if !width.is_finite() => (0, 0.0),
        Some(x) => {
            // Widths are powers of two (see `bucket_width`): multiplying by the inverse is
            // the division, exactly, without its cost.
            // floor() without the library call a baseline x86-64 needs for it: truncate,
            // then step down where truncation went up (negative non-integers).
            let t = x * inverse;
            let b = if t.is_finite() && t.abs() < 9e18 {
                let b = t as i64;
                if (b as f64) > t { b - 1 } else { b }
            } else {
                i64::MAX
            };
            (b, b as f64 * width)
        }
    }
}

/// Width of compartment `i`'s crowding buckets for steps of length `h`.
pub(super) fn bucket_width(model: &Model, i: usize, h: f64) -> f64 {
    let c = &model.compartments[i];
    let scale = match c.growth {
        crate::model::GrowthLaw::Exponential => 0.0,
        crate::model::GrowthLaw::Logistic => c.birth.abs() / c.capacity,
        crate::model::GrowthLaw::Gompertz => c.birth.abs(),
    };
    if scale > 0.0 && h > 0.0 {
        // Rounded down to a power of two, so the buckets stay within the span and a rollout
        // finds its bucket by a multiplication.
        2f64.powi((BUCKET_SPAN / (scale * h)).log2().floor() as i32)
    } else {
        f64::INFINITY
    }
}

/// The cache key of a kernel: digests of the model and quadrature, of the exposure state,
/// the step's start within its segment and its length, and the crowding buckets.
#[derive(Debug, Clone, Copy, Eq)]
pub(super) struct KernelKey([u64; 6]);

impl PartialEq for KernelKey {
    /// Word by word, folded without branches (the derived comparison calls `memcmp`, which
    /// showed in profiles: every step compares a key or two).
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.0
            .iter()
            .zip(&other.0)
            .fold(0u64, |d, (a, b)| d | (a ^ b))
            == 0
    }
}

impl std::hash::Hash for KernelKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for w in self.0 {
            state.write_u64(w);
        }
    }
}

/// The key of a kernel built from these.
pub(super) fn key(model: u64, exposure: [u64; 2], tau0: f64, h: f64, buckets: &[i64]) -> KernelKey {
    let mut b = 0x6275_636b_6574_7321u64; // "buckets!"
    for &x in buckets {
        b = (b ^ x as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(31);
    }
    KernelKey([
        model,
        exposure[0],
        exposure[1],
        tau0.to_bits(),
        h.to_bits(),
        b,
    ])
}

/// The cache key of one compartment's part of a kernel: two independent digests of its
/// rates at the nodes, with x₀, the mutation share, the step length and the mesh.
fn lineage_key(
    nodes: &Nodes,
    h: f64,
    x0: f64,
    share: f64,
    rates: impl Fn(usize) -> [f64; 3],
) -> KernelKey {
    let mut d = [0x6c69_6e65_6167_6573u64, 0x636f_6d70_6172_746d]; // "lineages", "compartm"
    for k in 0..nodes.len() {
        for r in rates(k) {
            crate::support::rng::absorb2(&mut d, r.to_bits());
        }
    }
    KernelKey([
        mix64(d[0]),
        mix64(d[1] ^ 0x5851_f42d_4c95_7f2d),
        x0.to_bits(),
        share.to_bits(),
        h.to_bits(),
        nodes.len() as u64,
    ])
}

/// A fast hasher for keys made of digests.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        mix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

type Cache<T> = HashMap<KernelKey, Rc<T>, BuildHasherDefault<KeyHasher>>;

thread_local! {
    static KERNELS: RefCell<Cache<Kernel>> = RefCell::new(Cache::default());
    static PROFILES: RefCell<Cache<Profile>> = RefCell::new(Cache::default());
    static SWITCHES: RefCell<Cache<Switching>> = RefCell::new(Cache::default());
    static LINEAGES: RefCell<Cache<Lineage>> = RefCell::new(Cache::default());
    static SEEN: RefCell<std::collections::HashSet<u64, BuildHasherDefault<KeyHasher>>> =
        RefCell::new(std::collections::HashSet::default());
}

/// The value of `key` in this thread's `cache`, built by `build` if it is not there yet. A
/// value is kept only the second time its key is asked for: most steps of a closed-loop arm,
/// of a virtual patient or after progression are taken once, and keeping them would only
/// crowd out the shared ones (`seen` holds the keys asked for once, by their hash).
fn lookup<T>(
    cache: &'static std::thread::LocalKey<RefCell<Cache<T>>>,
    key: KernelKey,
    build: impl FnOnce() -> T,
) -> Rc<T> {
    cache.with(|cache| {
        if let Some(k) = cache.borrow().get(&key) {
            return Rc::clone(k);
        }
        let value = Rc::new(build());
        let again = SEEN.with(|seen| {
            let mut seen = seen.borrow_mut();
            let digest = key.0.iter().fold(0u64, |h, w| mix64(h ^ w));
            if seen.len() >= MAX_SEEN {
                seen.clear();
            }
            !seen.insert(digest)
        });
        if again {
            let mut cache = cache.borrow_mut();
            if cache.len() >= MAX_KERNELS {
                cache.clear();
            }
            cache.insert(key, Rc::clone(&value));
        }
        value
    })
}

/// The kernel of `key`, built by `build` if this thread does not hold it yet.
pub(super) fn cached(key: KernelKey, build: impl FnOnce() -> Kernel) -> Rc<Kernel> {
    lookup(&KERNELS, key, build)
}

/// The exposure profile of `key`, built by `build` if this thread does not hold it yet.
pub(super) fn cached_profile(key: KernelKey, build: impl FnOnce() -> Profile) -> Rc<Profile> {
    lookup(&PROFILES, key, build)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::pk::Dose;
    use crate::scenario::Scenario;

    fn persister() -> Scenario {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/persister-nsclc.yaml");
        Scenario::load(&path).unwrap()
    }

    /// The scenario's exposure a few hours after the tenth daily 80 mg dose.
    fn dosed(s: &Scenario) -> Exposure {
        let mut e = Exposure::new(&s.drugs);
        for day in 0..10 {
            let dose = Dose {
                drug: 0,
                amount: 80.0,
                duration: 1.0,
            };
            e.give(day as f64, &dose);
            e.advance(day as f64, 1.0);
        }
        e.give(
            10.0,
            &Dose {
                drug: 0,
                amount: 80.0,
                duration: 1.0,
            },
        );
        e
    }

    #[test]
    fn small_exponentials_are_accurate() {
        for i in -125..=125 {
            let x = i as f64 / 1000.0;
            // Truncation bounds: (1/8)⁶/6!·e^{1/8} ≈ 6e-9 of e^{−x}, (1/8)⁷/8! ≈ 1.2e-11 of
            // e^x − 1.
            // The kernel's polynomials in δ: e^{−δ} to degree 5 (the midpoint prediction),
            // e^{δ} − 1 to degree 7 (the law's e^ρ − 1), and the engine's own e^x − 1.
            let mut shrink = taylor_exp(-1.0, 1.0);
            shrink[6..].fill(0.0);
            assert!(
                (polynomial(&shrink, &powers(x)) / (-x).exp() - 1.0).abs() < 6e-9,
                "{x}"
            );
            let mut em1 = taylor_exp(1.0, 1.0);
            em1[0] = 0.0;
            if x != 0.0 {
                assert!((expm1_series(x) / x.exp_m1() - 1.0).abs() < 2e-11, "{x}");
                assert!((polynomial(&em1, &powers(x)) / x.exp_m1() - 1.0).abs() < 2e-11);
            }
        }
    }

    #[test]
    fn rate_parts_reproduce_the_rates() {
        let s = persister();
        let model = &s.model;
        let mut rates = model.new_rates();
        let mut parts = model.new_rate_parts();
        for state in [[1e10, 1e8, 0.0, 0.0, 1e6], [5e11, 1e9, 1e9, 1e8, 3e11]] {
            for c in [0.0, 0.05, 0.3] {
                let conc = [c, 0.5];
                model.rates(&state, &conc, &mut rates);
                model.rate_parts(&conc, &mut parts);
                for i in 0..state.len() {
                    let x = model.crowding(i, &state).unwrap();
                    let net = parts.growth[i] - x * parts.crowding[i];
                    let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * b.abs().max(1e-3);
                    assert!(close(net.max(0.0), rates.birth[i]), "birth {i}");
                    assert!(
                        close((-net).max(0.0) + parts.loss[i], rates.death[i]),
                        "death {i}"
                    );
                }
                assert_eq!(parts.transition, rates.transition);
            }
        }
    }

    #[test]
    fn rates_below_the_safe_total_are_in_range_and_the_bound_is_tight() {
        // The driver skips its full rate check below `rates_safe_below`: below it no state
        // may have a rate out of range, and just above it (all cells in the compartment
        // that sets it) one must, or the skip would hide nothing but also promise nothing.
        let s = persister();
        let model = &s.model;
        let mut rates = model.new_rates();
        let mut parts = model.new_rate_parts();
        for c in [0.0, 0.05, 0.3] {
            model.rate_parts(&[c, 0.5], &mut parts);
            let safe = model.rates_safe_below(&parts);
            assert!(safe.is_finite() && safe > 1e12, "{safe}");
            let mut tight = 0;
            for i in 0..model.n_compartments() {
                for scale in [0.999, 1.01] {
                    let mut state = vec![0.0; model.n_compartments()];
                    state[i] = scale * safe;
                    model.rates_from_parts(&parts, &state, &mut rates);
                    let out = model.rate_out_of_range(&rates);
                    if scale < 1.0 {
                        assert!(out.is_none(), "{i} at {c}: {out:?}");
                    } else if out.is_some() {
                        tight += 1;
                    }
                }
            }
            assert!(
                tight >= 1,
                "no compartment reaches the limit just above {safe}"
            );
        }
        // A kill no engine can follow: never safe.
        model.rate_parts(&[0.05, 0.5], &mut parts);
        parts.loss[0] = 1e300;
        assert_eq!(model.rates_safe_below(&parts), 0.0);
    }

    #[test]
    fn the_expansion_matches_the_law_integrated_at_x() {
        // Within a bucket's reach the Taylor coefficients give Kendall's law to 1e-9
        // relative: the truncation error is below |δE₁|⁶/6!, ~1e-9 at the limit.
        let s = persister();
        let model = &s.model;
        let nodes = Nodes::new(true);
        let members = switching_members(model);
        let share: Vec<f64> = (0..model.n_compartments())
            .map(|i| {
                model
                    .mutations
                    .iter()
                    .filter(|m| m.from == i)
                    .map(|m| m.probability)
                    .sum()
            })
            .collect();
        let cx = Context {
            model,
            nodes: &nodes,
            members: &members,
            mutation_share: &share,
        };
        let exposure = dosed(&s);
        let h = 1.0;
        for x in [1e9, 2e11, 6e11] {
            let buckets: Vec<(i64, f64)> = (0..model.n_compartments())
                .map(|i| {
                    let w = bucket_width(model, i, h);
                    bucket(Some(x), w, 1.0 / w)
                })
                .collect();
            let x0: Vec<f64> = buckets.iter().map(|b| b.1).collect();
            let profile = Profile::build(model, &nodes, &exposure, 0.1, h);
            let switch_key = key(2, exposure.digest(), 0.1, h, &[]);
            let kernel = Kernel::build(&cx, &profile, h, &x0, switch_key);
            for i in 0..model.n_compartments() {
                let fast = kernel.law(&nodes, i, Some(x), share[i]);
                let (slow, slow_means) = kernel.exact(&nodes, i, x, share[i]);
                let fast_means = kernel.mean_rates(&nodes, i, Some(x), share[i]);
                let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
                assert!(close(fast.em1, slow.em1), "{i} x={x}: {fast:?} {slow:?}");
                assert!(
                    close(fast.integral, slow.integral),
                    "{i} x={x}: {fast:?} {slow:?}"
                );
                assert!(
                    share[i] == 0.0 || close(fast.divisions, slow.divisions),
                    "{i} x={x}: {fast:?} {slow:?}"
                );
                assert!(close(fast_means.0, slow_means.0), "{i}");
                assert!(close(fast_means.1, slow_means.1), "{i}");
            }
        }
    }

    #[test]
    fn the_switching_law_is_a_stochastic_matrix_of_the_generator() {
        // exp of a 2-state generator [[-a, a], [b, -b]] has P_01 = a(1 − e^{−(a+b)})/(a+b).
        let g = [-0.3, 0.3, 0.1, -0.1];
        let p = expm(&g, 2, &mut ExpmScratch::default());
        let want = 0.3 * (1.0 - (-0.4f64).exp()) / 0.4;
        assert!((p[1] - want).abs() < 1e-14, "{} vs {want}", p[1]);
        assert!((p[0] + p[1] - 1.0).abs() < 1e-14);
        // A large norm goes through scaling and squaring.
        let g = [-3.0, 3.0, 1.0, -1.0];
        let p = expm(&g, 2, &mut ExpmScratch::default());
        let want = 3.0 * (1.0 - (-4.0f64).exp()) / 4.0;
        assert!((p[1] - want).abs() < 1e-13, "{} vs {want}", p[1]);
    }
}
