//! The joint step of several rollouts at once, as structure of arrays.
//!
//! Lanes of a [`super::Block`] whose joint steps share a kernel (the same model, exposure,
//! step and crowding buckets: in an open-loop arm, nearly every lane on nearly every day)
//! take the whole joint step together — the switched start, the midpoint prediction, the
//! laws, the covariance and its factor, the members' draws, the other compartments'
//! lineages and the mutants — [`LANES`] lanes to an array, so that one vector instruction
//! serves every lane, and each lane's new counts go straight into its state. The arithmetic
//! was the larger part of a step's instructions, done lane by lane; the draws whose paths
//! branch (exact small counts, mutants) stay per lane, in the same functions.
//!
//! Each lane's numbers come from the same operations in the same order as in
//! [`StochasticPropagator::joint_laws`] to [`StochasticPropagator::joint_finish`] (IEEE
//! arithmetic is exact per element, and Rust never fuses a multiplication and an addition),
//! and from its own keyed streams, so a rollout's numbers do not depend on the lanes beside
//! it. A lane the arrays do not take — its crowding outside a kernel's expansion, where the
//! law is integrated at x — takes the lane-by-lane stages instead.

// Arrays indexed by compartment, member and lane together; index loops read clearest.
#![allow(clippy::needless_range_loop)]

use super::block::Leg;
use super::draws;
use super::kernel::{Lineage, POWERS};
use super::{CH_SURVIVORS, CHANNELS, Pending, StochasticPropagator};
use crate::model::{Compartment, GrowthLaw, Model};
use rand_distr::{Distribution, StandardNormal};

/// Lanes to an array: eight doubles fill a 512-bit vector register (AVX-512), two 256-bit
/// ones (AVX2). Eight gained ~7 % of the whole run over four where AVX-512 is present and
/// nothing where it is not (docs/performance.md).
pub const LANES: usize = 8;
/// The largest models the arrays take (larger ones take the lane-by-lane stages); the sizes
/// compiled in `joint_steps_any` are every pair within these.
const MAX_COMPARTMENTS: usize = 6;
const MAX_MEMBERS: usize = 6;
const MAX_TRIANGLE: usize = MAX_MEMBERS * (MAX_MEMBERS + 1) / 2;

/// One value per lane.
type V = [f64; LANES];

/// `f` of every lane (a plain loop: `std::array::from_fn` was not always inlined).
#[inline(always)]
fn each(f: impl Fn(usize) -> f64) -> V {
    let mut v = [0.0; LANES];
    for (l, v) in v.iter_mut().enumerate() {
        *v = f(l);
    }
    v
}

/// Whether the arrays can take the joint steps of `model` with `members` switching
/// compartments: small enough, and every compartment crowded linearly (a Gompertz
/// compartment's crowding is a logarithm, left to the lanes one by one).
pub fn fits(model: &Model, members: usize) -> bool {
    model.n_compartments() <= MAX_COMPARTMENTS
        && (2..=MAX_MEMBERS).contains(&members)
        && model
            .compartments
            .iter()
            .all(|c| matches!(c.growth, GrowthLaw::Logistic | GrowthLaw::Exponential))
}

/// δ⁰ … δ⁷ per lane (as `kernel::powers`).
#[inline(always)]
fn powers(d: &V) -> [V; POWERS] {
    let d2 = each(|l| d[l] * d[l]);
    let d3 = each(|l| d2[l] * d[l]);
    let d4 = each(|l| d2[l] * d2[l]);
    [
        [1.0; LANES],
        *d,
        d2,
        d3,
        d4,
        each(|l| d4[l] * d[l]),
        each(|l| d4[l] * d2[l]),
        each(|l| d4[l] * d3[l]),
    ]
}

/// Σ c_k·δᵏ per lane, summed as `kernel::polynomial` sums.
#[inline(always)]
fn polynomial(c: &[f64; POWERS], power: &[V; POWERS]) -> V {
    let mut t = [[0.0; LANES]; POWERS];
    for k in 0..POWERS {
        t[k] = each(|l| c[k] * power[k][l]);
    }
    each(|l| {
        ((t[0][l] + t[1][l]) + (t[2][l] + t[3][l])) + ((t[4][l] + t[5][l]) + (t[6][l] + t[7][l]))
    })
}

/// Takes the joint steps of the lanes `chunk` (1 to [`LANES`] lanes of `lanes`, whose
/// pending steps share one kernel and one order of switching and growth; [`fits`] holds
/// for their model — the block checks it once per rollout, not here): each lane taken has
/// its leg's state moved by the step, to the counts the lane-by-lane stages would give.
/// Per position in `chunk`: whether its lane was taken (one whose crowding falls outside a
/// kernel's expansion is not).
pub fn joint_steps(
    lanes: &mut [StochasticPropagator],
    pending: &[Option<Pending>],
    legs: &mut [Option<Leg>],
    chunk: &[usize],
) -> [bool; LANES] {
    Version::fastest().joint_steps(lanes, pending, legs, chunk)
}

/// The compiled versions of the arrays: the same numbers, in wider vector instructions
/// where the processor has them. A version other than `Any` is made only where the
/// processor has its feature ([`Version::fastest`], and the tests' list of versions).
#[derive(Debug, Clone, Copy)]
enum Version {
    Any,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Version {
    /// The widest version this processor runs (its features are detected once and cached
    /// by the standard library).
    fn fastest() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Version::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Version::Avx2;
            }
        }
        Version::Any
    }

    /// [`joint_steps`] in this version.
    #[inline]
    fn joint_steps(
        self,
        lanes: &mut [StochasticPropagator],
        pending: &[Option<Pending>],
        legs: &mut [Option<Leg>],
        chunk: &[usize],
    ) -> [bool; LANES] {
        match self {
            Version::Any => joint_steps_any(lanes, pending, legs, chunk),
            // SAFETY: these versions are made only where the processor has AVX2 or
            // AVX-512F (see the type), all that the functions are compiled to use.
            #[cfg(target_arch = "x86_64")]
            Version::Avx2 => unsafe { joint_steps_avx2(lanes, pending, legs, chunk) },
            #[cfg(target_arch = "x86_64")]
            Version::Avx512 => unsafe { joint_steps_avx512(lanes, pending, legs, chunk) },
        }
    }
}

/// [`joint_steps`] in 256-bit vector instructions (four lanes to an instruction). AVX2
/// brings no fused multiply–add (that is another feature, not enabled here), so the
/// numbers are the same as on any other processor.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn joint_steps_avx2(
    lanes: &mut [StochasticPropagator],
    pending: &[Option<Pending>],
    legs: &mut [Option<Leg>],
    chunk: &[usize],
) -> [bool; LANES] {
    joint_steps_any(lanes, pending, legs, chunk)
}

/// [`joint_steps`] in 512-bit vector instructions (eight lanes to an instruction). Rust
/// never fuses a multiplication and an addition unasked, so although AVX-512F implies the
/// FMA instructions, none is emitted and the numbers are the same as on any processor
/// (`arrays_match_the_lane_by_lane_stages_bit_for_bit` checks each version the processor
/// runs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn joint_steps_avx512(
    lanes: &mut [StochasticPropagator],
    pending: &[Option<Pending>],
    legs: &mut [Option<Leg>],
    chunk: &[usize],
) -> [bool; LANES] {
    joint_steps_any(lanes, pending, legs, chunk)
}

/// [`joint_steps`] for any processor (inlined into each compiled version), compiled for
/// each number of compartments and members (loops of known length unroll, and their
/// indices need no arithmetic or checks).
#[inline(always)]
fn joint_steps_any(
    lanes: &mut [StochasticPropagator],
    pending: &[Option<Pending>],
    legs: &mut [Option<Leg>],
    chunk: &[usize],
) -> [bool; LANES] {
    let Some(lane) = chunk.first().map(|&i| &lanes[i]) else {
        return [false; LANES];
    };
    let (nc, m) = (lane.member.len(), lane.members.len());
    macro_rules! sizes {
        ($(($n:literal, $m:literal)),*) => {
            match (nc, m) {
                $(($n, $m) => arrays::<$n, $m>(lanes, pending, legs, chunk),)*
                _ => [false; LANES],
            }
        };
    }
    sizes!(
        (2, 2),
        (3, 2),
        (3, 3),
        (4, 2),
        (4, 3),
        (4, 4),
        (5, 2),
        (5, 3),
        (5, 4),
        (5, 5),
        (6, 2),
        (6, 3),
        (6, 4),
        (6, 5),
        (6, 6)
    )
}

/// [`joint_steps`] for `NC` compartments, `M` of them switching.
#[inline(always)]
fn arrays<const NC: usize, const M: usize>(
    lanes: &mut [StochasticPropagator],
    pending: &[Option<Pending>],
    legs: &mut [Option<Leg>],
    chunk: &[usize],
) -> [bool; LANES] {
    let mut taken = [false; LANES];
    let Some(&first) = chunk.first() else {
        return taken;
    };
    let (Some(step), Some(leg)) = (&pending[first], &legs[first]) else {
        return taken;
    };
    let model = leg.model;
    let kernel = &*step.kernel;
    let (nc, m) = (NC, M);
    let lane0 = &lanes[first];
    let (Ok(members), Ok(member), Ok(crowd_like), Ok(lineages), Ok(compartments)) = (
        <[usize; M]>::try_from(&lane0.members[..]),
        <[bool; NC]>::try_from(&lane0.member[..]),
        <[usize; NC]>::try_from(&lane0.crowd_like[..]),
        <&[Lineage; NC]>::try_from(&kernel.lineages[..]),
        <&[Compartment; NC]>::try_from(&model.compartments[..]),
    ) else {
        return taken;
    };
    if chunk.len() > LANES {
        return taken;
    }

    // The lanes' counts and start crowding (lanes past the chunk repeat its last).
    let mut ok = [true; LANES];
    // Lanes whose crowding leaves a kernel's expansion (rare; they take the lane-by-lane
    // stages).
    let mut outside = [false; LANES];
    let mut n = [[0.0; LANES]; NC];
    let mut x = [[0.0; LANES]; NC];
    for l in 0..LANES {
        let i = chunk[l.min(chunk.len() - 1)];
        let Some(leg) = &legs[i] else {
            ok[l] = false;
            continue;
        };
        let (Ok(state), Ok(crowding)) = (
            <&[f64; NC]>::try_from(&leg.state[..]),
            <&[Option<f64>; NC]>::try_from(&lanes[i].x[..]),
        ) else {
            ok[l] = false;
            continue;
        };
        for j in 0..nc {
            n[j][l] = state[j];
            match crowding[j] {
                Some(v) => x[j][l] = v,
                None => ok[l] = false,
            }
        }
    }

    // The birth–death start: the switched mean when switching comes first.
    let p = &kernel.switching.matrix;
    let mut start = n;
    if step.switch_first {
        for b in 0..m {
            let mut s = [-0.0; LANES];
            for a in 0..m {
                let (w, na) = (p[a * m + b], &n[members[a]]);
                s = each(|l| s[l] + w * na[l]);
            }
            start[members[b]] = s;
        }
    }

    // The midpoint prediction and its crowding (as `update_laws`).
    let mut predicted = [[0.0; LANES]; NC];
    for j in 0..nc {
        let part = &lineages[j];
        let (lo, hi) = part.shrink_near;
        for l in 0..LANES {
            outside[l] |= !((x[j][l] > lo) & (x[j][l] < hi));
        }
        let shrink = polynomial(&part.shrink, &powers(&each(|l| x[j][l] - part.x0)));
        predicted[j] = each(|l| start[j][l] * shrink[l]);
    }
    let mut mid = [[0.0; LANES]; NC];
    for i in 0..nc {
        let shared = crowd_like[i];
        mid[i] = if shared < i {
            mid[shared]
        } else {
            let c = &compartments[i];
            if c.growth == GrowthLaw::Logistic {
                let mut s = [-0.0; LANES];
                for (j, &a) in c.competition.iter().take(nc).enumerate() {
                    s = each(|l| s[l] + a * predicted[j][l]);
                }
                s
            } else {
                [0.0; LANES]
            }
        };
    }

    // Every compartment's law at its midpoint crowding.
    let mut em1 = [[0.0; LANES]; NC];
    let mut integral = [[0.0; LANES]; NC];
    let mut divisions = [[0.0; LANES]; NC];
    for i in 0..nc {
        let part = &lineages[i];
        let (lo, hi) = part.near;
        for l in 0..LANES {
            outside[l] |= !((mid[i][l] >= lo) & (mid[i][l] <= hi));
        }
        let power = powers(&each(|l| mid[i][l] - part.x0));
        em1[i] = polynomial(&part.em1, &power);
        integral[i] = polynomial(&part.integral, &power);
        divisions[i] = polynomial(&part.divisions, &power);
    }

    // Per member: mean growth and per-cell variance of its lineages (as `joint_laws`).
    let mut growth = [[0.0; LANES]; M];
    let mut spread = [[0.0; LANES]; M];
    for a in 0..m {
        let (e, v) = (&em1[members[a]], &integral[members[a]]);
        let g = each(|l| 1.0 / (1.0 + e[l]));
        growth[a] = g;
        spread[a] = each(|l| ((e[l] + 2.0 * v[l]) * g[l] * g[l]).max(0.0));
    }

    // The outcome's mean and the covariance's packed lower triangle (as
    // `joint_covariance_of`).
    let t = m * (m + 1) / 2;
    let moments = &kernel.switching.moments;
    let mut tri = [[0.0; LANES]; MAX_TRIANGLE];
    let mut mean = [[0.0; LANES]; M];
    if step.switch_first {
        for a in 0..m {
            let w = &n[members[a]];
            let d = &moments[2 * t * a..2 * t * a + t];
            for k in 0..t {
                tri[k] = each(|l| tri[k][l] + w[l] * d[k]);
            }
        }
        let mut k = 0;
        for b in 0..m {
            for c in 0..=b {
                let gg = each(|l| growth[b][l] * growth[c][l]);
                tri[k] = each(|l| tri[k][l] * gg[l]);
                k += 1;
            }
            let s = &start[members[b]];
            tri[k - 1] = each(|l| tri[k - 1][l] + spread[b][l] * s[l]);
            mean[b] = each(|l| growth[b][l] * s[l]);
        }
    } else {
        for a in 0..m {
            let na = &n[members[a]];
            let w = each(|l| growth[a][l] * na[l]);
            let u = each(|l| spread[a][l] * na[l]);
            let (d, o) = moments[2 * t * a..2 * t * (a + 1)].split_at(t);
            for k in 0..t {
                tri[k] = each(|l| tri[k][l] + (w[l] * d[k] + u[l] * o[k]));
            }
        }
        for b in 0..m {
            let mut s = [-0.0; LANES];
            for a in 0..m {
                let (pa, na) = (p[a * m + b], &n[members[a]]);
                s = each(|l| s[l] + pa * growth[a][l] * na[l]);
            }
            mean[b] = s;
        }
    }

    // Its L·D·Lᵀ factor (as `draws::correlated_normal`).
    let at = |i: usize, k: usize| i * (i + 1) / 2 + k;
    let mut scale = [0.0; LANES];
    for i in 0..m {
        let d = tri[at(i, i)];
        scale = each(|l| {
            let v = d[l].abs();
            if v > scale[l] { v } else { scale[l] }
        });
    }
    let floor = each(|l| 1e-12 * scale[l]);
    let mut ld = [[0.0; LANES]; M];
    for j in 0..m {
        let mut d = tri[at(j, j)];
        for k in 0..j {
            let (jk, kk) = (tri[at(j, k)], tri[at(k, k)]);
            ld[k] = each(|l| jk[l] * kk[l]);
            d = each(|l| d[l] - jk[l] * ld[k][l]);
        }
        let pivot = each(|l| if d[l] > floor[l] { d[l] } else { 0.0 });
        tri[at(j, j)] = pivot;
        let inverse = each(|l| if pivot[l] > 0.0 { 1.0 / pivot[l] } else { 0.0 });
        for i in j + 1..m {
            let mut s = tri[at(i, j)];
            for k in 0..j {
                let ik = tri[at(i, k)];
                s = each(|l| s[l] - ik[l] * ld[k][l]);
            }
            tri[at(i, j)] = each(|l| s[l] * inverse[l]);
        }
    }

    for l in 0..LANES {
        ok[l] &= !outside[l];
    }

    // The members' draws, each lane from its own stream.
    let unit = (nc + model.mutations.len()) as u64 * CHANNELS;
    let mut normal = [[0.0; LANES]; M];
    for (l, &i) in chunk.iter().enumerate() {
        if let (true, Some(step)) = (ok[l], &pending[i]) {
            let mut rng = step.key.stream(unit);
            for k in 0..m {
                normal[k][l] = StandardNormal.sample(&mut rng);
            }
        }
    }
    let mut z = [[0.0; LANES]; M];
    for k in 0..m {
        let pivot = tri[at(k, k)];
        z[k] = each(|l| normal[k][l] * pivot[l].sqrt());
    }
    let mut out = [[0.0; LANES]; M];
    for i in 0..m {
        let mut s = each(|l| mean[i][l] + z[i][l]);
        for k in 0..i {
            let ik = tri[at(i, k)];
            s = each(|l| s[l] + ik[l] * z[k][l]);
        }
        out[i] = s;
    }

    // The compartments that do not switch: their lineages' law, and the normal law's mean
    // and deviation where they leave many survivors (the others take the exact draws lane
    // by lane).
    let mut alpha = [[0.0; LANES]; NC];
    let mut beta = [[0.0; LANES]; NC];
    let mut centre = [[0.0; LANES]; NC];
    let mut deviation = [[0.0; LANES]; NC];
    for j in 0..nc {
        if member[j] {
            continue;
        }
        for l in 0..LANES {
            let (a, b) = draws::lineage_law(em1[j][l], integral[j][l]);
            (alpha[j][l], beta[j][l]) = (a, b);
            (centre[j][l], deviation[j][l]) = draws::gaussian_moments(n[j][l], a, b);
        }
    }

    // Into each lane taken: its new counts, with the draws that stay per lane.
    let h = step.h;
    for (l, &i) in chunk.iter().enumerate() {
        if !ok[l] {
            continue;
        }
        let Some(step) = &pending[i] else {
            continue;
        };
        // (The tests read the lane's law and crowding as the lane-by-lane stages leave
        // them, to compare them bit for bit: whole counts can hide a law's last bit.)
        #[cfg(test)]
        for j in 0..nc {
            let lane = &mut lanes[i];
            lane.start[j] = start[j][l];
            lane.mid[j] = Some(mid[j][l]);
            lane.laws[j] = super::kernel::Law {
                em1: em1[j][l],
                integral: integral[j][l],
                divisions: divisions[j][l],
            };
        }
        let lane = &lanes[i];
        let key = &step.key;
        let mut next = [0.0; NC];
        for b in 0..m {
            next[members[b]] = draws::whole(out[b][l]);
        }
        for j in 0..nc {
            if member[j] {
                continue;
            }
            let count = n[j][l];
            next[j] = if count <= 0.0 {
                0.0
            } else if draws::many_survivors(count, alpha[j][l]) {
                let mut survivors = key.stream(j as u64 * CHANNELS + CH_SURVIVORS);
                let z: f64 = StandardNormal.sample(&mut survivors);
                draws::whole(centre[j][l] + deviation[j][l] * z)
            } else {
                super::lineages_of(j, count, alpha[j][l], beta[j][l], key)
            };
        }
        for target in &lane.mutation_targets {
            let mean = target.mean(|from| start[from][l], |from| divisions[from][l]);
            let mid = Some(mid[target.to][l]);
            if let Some(cells) = lane.mutants(kernel, h, target, mean, mid, key) {
                next[target.to] += cells;
            }
        }
        let Some(leg) = &mut legs[i] else {
            continue;
        };
        let Ok(state) = <&mut [f64; NC]>::try_from(&mut leg.state[..]) else {
            continue;
        };
        *state = next;
        taken[l] = true;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::super::{StochasticSettings, kernel};
    use super::*;
    use crate::model::pk::{Dose, Exposure};
    use crate::scenario::Scenario;
    use std::rc::Rc;

    /// Every compiled version of the arrays the processor runs leaves every lane bit for bit
    /// as the lane-by-lane stages do (its start, midpoint crowding and laws, and the new
    /// counts of every compartment, mutants included), for lanes whose counts differ but
    /// share a kernel, some with few cells outside the switching compartments (their exact
    /// draws), in both orders of switching and growth, for models with four and two
    /// switching compartments. (The block-size test compares whole runs, whose whole-number
    /// counts can hide a difference in the last bit of a law.)
    #[test]
    fn arrays_match_the_lane_by_lane_stages_bit_for_bit() {
        for name in [
            "persister-nsclc",
            "persister-pc9-invitro",
            "greene2019-induced",
        ] {
            same_as_lane_by_lane(name, 1.0);
            // Mutation probabilities 1000 times the model's: hundreds of mutants a step,
            // whose Poisson draw a mean wrong by its last few digits would change.
            same_as_lane_by_lane(name, 1e3);
        }
    }

    /// The versions this processor can run (each must give the same numbers).
    fn versions() -> Vec<Version> {
        #[allow(unused_mut)]
        let mut found = vec![Version::Any];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                found.push(Version::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                found.push(Version::Avx512);
            }
        }
        found
    }

    fn same_as_lane_by_lane(name: &str, mutation_scale: f64) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(format!("{name}.yaml"));
        let s = crate::sim::rollouts::in_cells(&Scenario::load(&path).unwrap());
        let mut model = s.model.clone();
        for mutation in &mut model.mutations {
            mutation.probability *= mutation_scale;
        }
        let model = &model;
        let mut exposure = Exposure::new(&s.drugs);
        let dose = Dose {
            drug: 0,
            amount: 80.0,
            duration: 1.0,
        };
        exposure.give(0.0, &dose);
        let nc = model.n_compartments();
        let make = |rollout| {
            let settings = StochasticSettings {
                seed: 3,
                rollout,
                step: 1.0,
            };
            StochasticPropagator::new(model, true, settings)
        };
        let members = kernel::switching_members(model);
        let mut small_others = false;
        for (t, version) in [0.0, 1.0]
            .into_iter()
            .flat_map(|t| versions().into_iter().map(move |v| (t, v)))
        {
            let mut alone = Vec::new();
            let mut together = Vec::new();
            let mut pending = Vec::new();
            let mut states: Vec<Vec<f64>> = (0..LANES)
                .map(|l| {
                    (0..nc)
                        .map(|i| {
                            let room = 0.2 * model.compartments[i].capacity / nc as f64;
                            let n = (3e9 / (i + 1) as f64).min(room);
                            // Up to 4 % apart, so that every lane's crowding falls in
                            // one kernel's bucket (asserted below).
                            let spread = 0.04 * l as f64 / (LANES - 1) as f64;
                            // Odd lanes: a compartment that does not switch holds a few
                            // hundred cells (its exact draws, not the normal law).
                            if l % 2 == 1 && !members.contains(&i) {
                                (300.0 * (1.0 + spread)).round()
                            } else {
                                (n * (1.0 + spread)).round()
                            }
                        })
                        .collect()
                })
                .collect();
            let mut finals = Vec::new();
            for (l, state) in states.iter_mut().enumerate() {
                let (mut a, mut b) = (make(l as u64), make(l as u64));
                let mut copy = state.clone();
                let plan = a.plan(t, t, t + 1.0);
                let step = a.begin_step(model, &exposure, &plan, &mut copy).unwrap();
                a.joint_laws(&step, model, &copy);
                a.joint_covariance(&step, &copy);
                a.joint_draw(&step, model);
                a.joint_finish(&step, &mut copy);
                finals.push(copy);
                alone.push(a);
                let plan = b.plan(t, t, t + 1.0);
                pending.push(b.begin_step(model, &exposure, &plan, state));
                together.push(b);
            }
            small_others |= states
                .iter()
                .any(|n| (0..nc).any(|i| !members.contains(&i) && n[i] < 1e3));
            let mut legs: Vec<Option<Leg>> = states
                .iter_mut()
                .map(|state| {
                    Some(Leg {
                        model,
                        exposure: &exposure,
                        t0: t,
                        span: 1.0,
                        state,
                    })
                })
                .collect();
            let kernel = |step: &Option<Pending>| step.as_ref().map(|s| Rc::as_ptr(&s.kernel));
            assert!(
                pending.iter().all(|s| kernel(s) == kernel(&pending[0])),
                "{name}: the lanes must share a kernel, as the block groups them"
            );
            let chunk: Vec<usize> = (0..LANES).collect();
            let taken = version.joint_steps(&mut together, &pending, &mut legs, &chunk);
            assert_eq!(taken, [true; LANES], "{name}, {version:?}");
            drop(legs);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for (a, b) in alone.iter().zip(&together) {
                assert_eq!(bits(&a.start), bits(&b.start), "start at {t}, {version:?}");
                assert_eq!(a.mid, b.mid, "midpoint crowding at {t}, {version:?}");
                for (x, y) in a.laws.iter().zip(&b.laws) {
                    let (x, y) = (
                        [x.em1, x.integral, x.divisions],
                        [y.em1, y.integral, y.divisions],
                    );
                    assert_eq!(bits(&x), bits(&y), "laws at {t}, {version:?}");
                }
            }
            for (a, b) in finals.iter().zip(&states) {
                assert_eq!(bits(a), bits(b), "counts at {t}, {version:?}");
            }
        }
        assert!(
            small_others || members.len() == nc,
            "{name}: some lane must have few cells outside the switching compartments"
        );
    }
}
