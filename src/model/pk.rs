//! Drug exposure over time (dose levels or one-compartment pharmacokinetics) and the
//! response curves that turn an exposure into an effect.
//!
//! PK is solved in closed form: between doses the depot and central amounts decay
//! exponentially, and a dose adds to one of them, so superposition of any number of doses
//! costs O(1) per evaluation.

use crate::support::rng::{absorb2, mix64};

/// Exposure → effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Response {
    /// `E = slope · C`.
    Linear {
        /// Effect per unit of exposure.
        slope: f64,
    },
    /// `E = emax · Cⁿ / (ec50ⁿ + Cⁿ)`.
    Hill {
        /// Largest effect.
        emax: f64,
        /// Exposure of half the largest effect.
        ec50: f64,
        /// Hill coefficient (steepness).
        n: f64,
    },
}

impl Response {
    /// The effect at exposure `c` (0 for `c` ≤ 0).
    #[inline]
    pub fn effect(&self, c: f64) -> f64 {
        if c <= 0.0 {
            return 0.0;
        }
        match *self {
            Response::Linear { slope } => slope * c,
            Response::Hill { emax, ec50, n } => {
                // emax / (1 + (ec50/C)ⁿ): no overflow for large C.
                emax / (1.0 + (ec50 / c).powf(n))
            }
        }
    }
}

/// How a drug's exposure follows its doses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kinetics {
    /// Exposure is the sum of the levels of the doses in effect (a dose lasts its duration).
    Level,
    /// One-compartment model: elimination rate `k`, absorption `ka` (None: IV bolus),
    /// bioavailability `f`, volume `v`.
    OneCompartment {
        /// Elimination rate per time unit (ln 2 / half-life).
        k: f64,
        /// First-order absorption rate per time unit; `None` for an intravenous bolus.
        ka: Option<f64>,
        /// Bioavailability: the fraction of a dose that reaches the circulation.
        f: f64,
        /// Volume of distribution: concentration = amount / volume.
        v: f64,
    },
}

/// A drug as the engines see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Drug {
    /// The drug's name in the scenario.
    pub name: String,
    /// How exposure follows doses.
    pub kinetics: Kinetics,
    /// Unit of a dose amount, for reports.
    pub dose_unit: String,
    /// The dose a schedule gives when it names none (the dose of continuous dosing).
    pub standard_dose: Option<f64>,
    /// The largest single dose a schedule may give.
    pub max_dose: Option<f64>,
}

/// One dose: `amount` of drug `drug` given at the current time, counted as covering
/// `duration` time units (a dose level is held that long; a PK dose just marks days on drug).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dose {
    /// Index of the drug.
    pub drug: usize,
    /// Amount (dose level, or mass for PK drugs).
    pub amount: f64,
    /// How long a level lasts (a PK dose acts through its kinetics instead).
    pub duration: f64,
}

#[derive(Debug, Clone)]
enum DrugState {
    Level {
        /// (level, end time) of each dose still in effect.
        active: Vec<(f64, f64)>,
    },
    Pk {
        depot: f64,
        central: f64,
    },
}

/// Exposure state of every drug at the start of the current integration segment.
#[derive(Debug, Clone)]
pub struct Exposure {
    kinetics: Vec<Kinetics>,
    states: Vec<DrugState>,
    /// The digest's starting lanes: every drug's kinetics absorbed (see [`Self::digest`]).
    seed: [u64; 2],
    /// Per drug, the last segment length `advance` decayed over and its two exponentials
    /// (segments repeat their length, daily doses every day): not part of the state.
    decay: Vec<[f64; 3]>,
    /// [`Self::digest`] of the current state, once asked for (runs that share one exposure
    /// ask for it once a step each): not part of the state.
    digested: std::cell::Cell<Option<[u64; 2]>>,
}

impl Exposure {
    /// The exposure state of `drugs`, all at zero.
    pub fn new(drugs: &[Drug]) -> Self {
        let states = drugs
            .iter()
            .map(|d| match d.kinetics {
                Kinetics::Level => DrugState::Level { active: Vec::new() },
                Kinetics::OneCompartment { .. } => DrugState::Pk {
                    depot: 0.0,
                    central: 0.0,
                },
            })
            .collect();
        let mut seed = [0x6578_706f_7375_7265u64, 0x6b69_6e65_7469_6373]; // "exposure", "kinetics"
        for d in drugs {
            match d.kinetics {
                Kinetics::Level => absorb2(&mut seed, 0),
                Kinetics::OneCompartment { k, ka, f, v } => {
                    absorb2(&mut seed, 1);
                    for x in [k, ka.unwrap_or(-1.0), f, v] {
                        absorb2(&mut seed, x.to_bits());
                    }
                }
            }
        }
        Exposure {
            seed,
            kinetics: drugs.iter().map(|d| d.kinetics).collect(),
            decay: vec![[f64::NAN; 3]; drugs.len()],
            states,
            digested: std::cell::Cell::new(None),
        }
    }

    /// Number of drugs.
    pub fn n_drugs(&self) -> usize {
        self.states.len()
    }

    /// Two independent digests of everything the exposure of the current segment depends
    /// on (each drug's kinetics and state), for caches of work derived from it. The
    /// kinetics are fixed for an exposure and enter through a seed taken once; a step
    /// absorbs only the states (a dose level's sum, a PK drug's two amounts).
    pub fn digest(&self) -> [u64; 2] {
        if let Some(d) = self.digested.get() {
            return d;
        }
        let d = self.digest_states();
        self.digested.set(Some(d));
        d
    }

    /// [`Self::digest`], worked out.
    fn digest_states(&self) -> [u64; 2] {
        let mut d = self.seed;
        for s in &self.states {
            match s {
                // A segment never crosses a level change: its exposure is the levels' sum.
                DrugState::Level { active } => {
                    absorb2(
                        &mut d,
                        active.iter().map(|(level, _)| level).sum::<f64>().to_bits(),
                    );
                }
                DrugState::Pk { depot, central } => {
                    absorb2(&mut d, depot.to_bits());
                    absorb2(&mut d, central.to_bits());
                }
            }
        }
        [mix64(d[0]), mix64(d[1] ^ 0x5851_f42d_4c95_7f2d)]
    }

    /// Gives a dose at time `t`.
    pub fn give(&mut self, t: f64, dose: &Dose) {
        if dose.amount <= 0.0 {
            return;
        }
        self.digested.set(None);
        let Some(state) = self.states.get_mut(dose.drug) else {
            return;
        };
        match (state, self.kinetics[dose.drug]) {
            (DrugState::Level { active }, _) => active.push((dose.amount, t + dose.duration)),
            (DrugState::Pk { depot, central }, Kinetics::OneCompartment { ka, f, .. }) => {
                if ka.is_some() {
                    *depot += f * dose.amount;
                } else {
                    *central += f * dose.amount;
                }
            }
            _ => {}
        }
    }

    /// Ends every dose level at `t` (treatment stopped): returns, per drug, the level × time
    /// that will now not be given. PK drugs already given stay in the body and wash out.
    /// Level doses are counted only up to `horizon`.
    pub fn stop_levels(&mut self, t: f64, horizon: f64) -> Vec<f64> {
        self.digested.set(None);
        self.states
            .iter_mut()
            .map(|s| match s {
                DrugState::Level { active } => {
                    let unused = active
                        .iter()
                        .map(|&(level, end)| level * (end.min(horizon) - t).max(0.0))
                        .sum();
                    active.clear();
                    unused
                }
                DrugState::Pk { .. } => 0.0,
            })
            .collect()
    }

    /// The earliest time after `t` at which a dose level ends: exposure jumps there, so an
    /// integration step must stop at it.
    pub fn next_change_after(&self, t: f64) -> f64 {
        let mut next = f64::INFINITY;
        for s in &self.states {
            if let DrugState::Level { active } = s {
                for &(_, end) in active {
                    if end > t && end < next {
                        next = end;
                    }
                }
            }
        }
        next
    }

    /// Exposure of each drug `tau` time units after the segment start (`tau` ≥ 0, and the
    /// segment never crosses a dose or a level change).
    pub fn at(&self, tau: f64, out: &mut [f64]) {
        for ((s, kin), c) in self.states.iter().zip(&self.kinetics).zip(out.iter_mut()) {
            *c = match (s, *kin) {
                (DrugState::Level { active }, _) => active.iter().map(|(level, _)| level).sum(),
                (DrugState::Pk { depot, central }, Kinetics::OneCompartment { k, ka, v, .. }) => {
                    if tau == 0.0 {
                        // What pk_advance gives at τ = 0 (e⁰ = 1, no transfer), without the
                        // two exponentials: the driver asks at every segment start.
                        *central / v
                    } else {
                        let (_, a) = pk_advance(*depot, *central, k, ka, tau);
                        a / v
                    }
                }
                _ => 0.0,
            };
        }
    }

    /// Moves the segment start from `t` to `t + tau`: PK amounts decay, ended levels drop.
    pub fn advance(&mut self, t: f64, tau: f64) {
        self.digested.set(None);
        let end = t + tau;
        for ((s, kin), decay) in self
            .states
            .iter_mut()
            .zip(&self.kinetics)
            .zip(&mut self.decay)
        {
            match (s, *kin) {
                (DrugState::Level { active }, _) => {
                    // Tolerance so a level that ends "at" end (up to rounding) is dropped.
                    active.retain(|&(_, stop)| stop > end + 1e-9 * end.abs().max(1.0));
                }
                (DrugState::Pk { depot, central }, Kinetics::OneCompartment { k, ka, .. }) => {
                    if decay[0] != tau {
                        let (ek, eka) = pk_decay(k, ka, tau);
                        *decay = [tau, ek, eka];
                    }
                    let (d, a) = pk_apply(*depot, *central, k, ka, tau, decay[1], decay[2]);
                    *depot = d;
                    *central = a;
                }
                _ => {}
            }
        }
    }
}

/// Depot and central amounts `tau` after (depot, central), first-order absorption `ka` and
/// elimination `k` (Bateman function; the ka = k limit handled separately).
#[inline]
fn pk_advance(depot: f64, central: f64, k: f64, ka: Option<f64>, tau: f64) -> (f64, f64) {
    let (ek, eka) = pk_decay(k, ka, tau);
    pk_apply(depot, central, k, ka, tau, ek, eka)
}

/// The elimination and absorption factors e^{−kτ} and e^{−ka·τ} of [`pk_advance`] (1 without
/// absorption).
#[inline]
fn pk_decay(k: f64, ka: Option<f64>, tau: f64) -> (f64, f64) {
    ((-k * tau).exp(), ka.map_or(1.0, |ka| (-ka * tau).exp()))
}

/// [`pk_advance`] from its two factors.
#[inline]
fn pk_apply(
    depot: f64,
    central: f64,
    k: f64,
    ka: Option<f64>,
    tau: f64,
    ek: f64,
    eka: f64,
) -> (f64, f64) {
    match ka {
        None => (0.0, central * ek),
        Some(ka) => {
            let transfer = if ((ka - k) / ka).abs() < 1e-9 {
                depot * k * tau * ek
            } else {
                depot * ka / (ka - k) * (ek - eka)
            };
            (depot * eka, central * ek + transfer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hill_is_half_max_at_ec50() {
        let r = Response::Hill {
            emax: 0.8,
            ec50: 2.0,
            n: 3.0,
        };
        assert!((r.effect(2.0) - 0.4).abs() < 1e-15);
        assert_eq!(r.effect(0.0), 0.0);
        assert!((r.effect(1e300) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn bateman_limit_is_continuous() {
        let k = 0.3;
        let (_, a_equal) = pk_advance(1.0, 0.0, k, Some(k), 2.0);
        let (_, a_near) = pk_advance(1.0, 0.0, k, Some(k * (1.0 + 1e-7)), 2.0);
        assert!((a_equal - a_near).abs() < 1e-6);
    }

    #[test]
    fn level_doses_end_and_superpose() {
        let drugs = [Drug {
            name: "d".into(),
            kinetics: Kinetics::Level,
            dose_unit: "MTD".into(),
            standard_dose: Some(1.0),
            max_dose: None,
        }];
        let mut e = Exposure::new(&drugs);
        e.give(
            0.0,
            &Dose {
                drug: 0,
                amount: 0.5,
                duration: 2.0,
            },
        );
        e.give(
            0.0,
            &Dose {
                drug: 0,
                amount: 0.25,
                duration: 1.0,
            },
        );
        let mut c = [0.0];
        e.at(0.0, &mut c);
        assert_eq!(c[0], 0.75);
        assert_eq!(e.next_change_after(0.0), 1.0);
        e.advance(0.0, 1.0);
        e.at(0.0, &mut c);
        assert_eq!(c[0], 0.5);
    }
}
