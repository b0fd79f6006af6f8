//! The population model of DESIGN.md §2, compiled to indices, and its one `rates` function.
//!
//! Every engine (ODE now, stochastic rollouts later) gets per-capita rates from
//! [`Model::rates`]; the mean-field derivative is built from those rates and nothing else, so
//! the engines cannot drift apart.

pub mod patients;
pub mod pk;
pub mod toxicity;

use crate::model::pk::Response;

/// How crowding slows a compartment's growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowthLaw {
    /// Lotka–Volterra: growth × (1 − Σ_j a_ij N_j / K_i).
    Logistic,
    /// Gompertz: growth × ln(K_i / Σ_j a_ij N_j).
    Gompertz,
    /// No crowding: growth at the intrinsic rate.
    Exponential,
}

/// What a compartment is, for outcomes such as time to resistance majority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Ordinary drug-sensitive cells.
    Sensitive,
    /// Drug-tolerant persisters (a non-genetic tolerant state).
    Persister,
    /// Genetically resistant cells.
    Resistant,
}

/// A response curve up to its scale: linear `C`, or Hill `Cⁿ / (ec50ⁿ + Cⁿ)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// `C`.
    Linear,
    /// `Cⁿ / (ec50ⁿ + Cⁿ)`.
    Hill {
        /// Exposure of half the largest effect.
        ec50: f64,
        /// Hill coefficient (steepness).
        n: f64,
    },
}

/// One drug response as `scale × shape(C)`. Responses of one drug that share a shape (the
/// same EC50 and Hill n, or any linear one) share one evaluation per rates call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrugEffect {
    /// Index into [`Model::shapes`].
    pub shape: usize,
    /// The effect's size: emax of a Hill curve or slope of a linear one.
    pub scale: f64,
}

impl DrugEffect {
    /// Finds or adds the shape of `response` on `drug` in `shapes`.
    pub fn intern(shapes: &mut Vec<(usize, Shape)>, drug: usize, response: Response) -> Self {
        let (shape, scale) = match response {
            Response::Linear { slope } => (Shape::Linear, slope),
            Response::Hill { emax, ec50, n } => (Shape::Hill { ec50, n }, emax),
        };
        let index = match shapes.iter().position(|s| *s == (drug, shape)) {
            Some(i) => i,
            None => {
                shapes.push((drug, shape));
                shapes.len() - 1
            }
        };
        DrugEffect {
            shape: index,
            scale,
        }
    }

    #[inline]
    fn value(&self, shape_values: &[f64]) -> f64 {
        self.scale * shape_values[self.shape]
    }
}

/// One cell population, compiled: rates per time unit and its drug effects.
#[derive(Debug, Clone, PartialEq)]
pub struct Compartment {
    /// Its name in the scenario.
    pub name: String,
    /// Intrinsic birth (division) rate.
    pub birth: f64,
    /// Intrinsic death rate.
    pub death: f64,
    /// Count at time 0 (burden units).
    pub initial: f64,
    /// Sensitive, persister or resistant.
    pub role: Role,
    /// How crowding slows its growth.
    pub growth: GrowthLaw,
    /// Carrying capacity before drug effects (unused by exponential growth).
    pub capacity: f64,
    /// `a_ij` for every compartment j, in compartment order.
    pub competition: Vec<f64>,
    /// Log-kill effects: add E to the death rate.
    pub kill: Vec<DrugEffect>,
    /// Norton–Simon effects: growth × (1 − ΣE).
    pub cytostatic: Vec<DrugEffect>,
    /// Capacity effects: K × (1 − ΣE).
    pub capacity_effects: Vec<DrugEffect>,
}

impl Compartment {
    /// The cells crowding this compartment in state `n`: `Σ_j a_ij N_j`.
    #[inline]
    fn crowd(&self, n: &[f64]) -> f64 {
        self.competition.iter().zip(n).map(|(a, x)| a * x).sum()
    }
}

/// What modulates a transition's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Modulation {
    /// Constant rate.
    Spontaneous,
    /// rate × E(C) of the inducing drug.
    Induced(DrugEffect),
    /// rate × (1 − max over drugs of their activity), activity clipped to [0, 1].
    OffDrug,
}

/// A switch of cells between compartments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// Index of the compartment cells leave.
    pub from: usize,
    /// Index of the compartment cells enter.
    pub to: usize,
    /// Per-capita rate per time unit before modulation.
    pub rate: f64,
    /// What scales the rate (a drug, being off drug, nothing).
    pub modulation: Modulation,
}

/// Each division of `from` yields one `to` daughter with probability `probability`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mutation {
    /// Index of the dividing compartment.
    pub from: usize,
    /// Index of the compartment the mutant daughter joins.
    pub to: usize,
    /// Probability per division.
    pub probability: f64,
}

/// The compiled population model every engine runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The compartments, in scenario order.
    pub compartments: Vec<Compartment>,
    /// Switches between compartments.
    pub transitions: Vec<Transition>,
    /// Mutations at division.
    pub mutations: Vec<Mutation>,
    /// Per drug: fraction of full effect at exposure C (used by off-drug transitions).
    pub activity: Vec<Option<DrugEffect>>,
    /// (drug, shape) of every distinct response curve.
    pub shapes: Vec<(usize, Shape)>,
}

/// Per-capita rates at one instant; buffers are reused between calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// Division rate of each compartment.
    pub birth: Vec<f64>,
    /// Death rate of each compartment (intrinsic, negative growth and drug kill).
    pub death: Vec<f64>,
    /// Per-capita rate of each transition, in `Model::transitions` order.
    pub transition: Vec<f64>,
    /// Value of each shape at the current exposure (scratch).
    pub shape_values: Vec<f64>,
}

/// Per-capita rates at one exposure with the crowding left out, for engines that treat the
/// state's crowding in closed form: the net growth of compartment i is
/// `growth_i − x_i·crowding_i`, where `x_i` is the state's crowding scalar
/// ([`Model::crowding`]); births are its positive part, deaths its negative part plus `loss_i`.
/// [`Model::rates`] is this decomposition evaluated at one state (a test holds them equal).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RateParts {
    /// Net growth with no crowding: `b·(1 − E_cytostatic)` (logistic and exponential),
    /// `b·(1 − E_cytostatic)·ln K` (Gompertz, K including capacity effects).
    pub growth: Vec<f64>,
    /// What one unit of the crowding scalar takes off the net growth.
    pub crowding: Vec<f64>,
    /// Intrinsic death plus every drug's kill.
    pub loss: Vec<f64>,
    /// Per-capita rate of each transition, in `Model::transitions` order.
    pub transition: Vec<f64>,
    /// Value of each shape at the exposure (scratch).
    pub shape_values: Vec<f64>,
}

impl Model {
    /// The first per-capita rate in `rates` that is not finite or exceeds
    /// [`crate::support::limits::MAX_RATE`], said in the model's terms.
    pub fn rate_out_of_range(&self, rates: &Rates) -> Option<String> {
        let bad = |r: f64| !r.is_finite() || r > crate::support::limits::MAX_RATE;
        for (i, c) in self.compartments.iter().enumerate() {
            if bad(rates.birth[i]) {
                return Some(format!(
                    "the division rate of `{}` reached {:e} per time unit",
                    c.name, rates.birth[i]
                ));
            }
            if bad(rates.death[i]) {
                return Some(format!(
                    "the death rate of `{}` (its death, negative growth and every drug's kill) \
                     reached {:e} per time unit",
                    c.name, rates.death[i]
                ));
            }
        }
        for (t, rate) in self.transitions.iter().zip(&rates.transition) {
            if bad(*rate) {
                return Some(format!(
                    "the switching rate from `{}` to `{}` reached {rate:e} per time unit",
                    self.compartments[t.from].name, self.compartments[t.to].name
                ));
            }
        }
        None
    }

    /// A total cell count below which no rate built from `parts` can exceed
    /// [`crate::support::limits::MAX_RATE`] or stop being finite (0 when some part already
    /// does): the driver checks the rates in full only above it. A birth or death rate is
    /// at most |growth| + |x|·|crowding| + loss, and the crowding scalar x is at most
    /// max|a_ij|·total (logistic), 0 (exponential), or |ln| of a positive double, ≤ 745
    /// (Gompertz).
    pub fn rates_safe_below(&self, parts: &RateParts) -> f64 {
        let limit = crate::support::limits::MAX_RATE;
        if parts
            .transition
            .iter()
            .any(|r| !r.is_finite() || *r > limit)
        {
            return 0.0;
        }
        let mut safe = f64::INFINITY;
        for (i, c) in self.compartments.iter().enumerate() {
            let (g, k, loss) = (parts.growth[i], parts.crowding[i], parts.loss[i]);
            let room = limit - g.abs() - loss;
            if room.is_nan() || room < 0.0 || !k.is_finite() {
                return 0.0;
            }
            let below = match c.growth {
                GrowthLaw::Exponential => f64::INFINITY,
                GrowthLaw::Gompertz if 745.0 * k.abs() <= room => f64::INFINITY,
                GrowthLaw::Gompertz => 0.0,
                GrowthLaw::Logistic => {
                    let a = c.competition.iter().fold(0.0f64, |m, a| m.max(a.abs()));
                    room / (a * k.abs())
                }
            };
            if below.is_nan() {
                return 0.0;
            }
            safe = safe.min(below);
        }
        safe
    }

    /// Number of compartments.
    pub fn n_compartments(&self) -> usize {
        self.compartments.len()
    }

    /// The counts at time 0, in compartment order.
    pub fn initial_state(&self) -> Vec<f64> {
        self.compartments.iter().map(|c| c.initial).collect()
    }

    /// A buffer for [`Model::rates`], sized for this model.
    pub fn new_rates(&self) -> Rates {
        Rates {
            birth: vec![0.0; self.compartments.len()],
            death: vec![0.0; self.compartments.len()],
            transition: vec![0.0; self.transitions.len()],
            shape_values: vec![0.0; self.shapes.len()],
        }
    }

    /// A digest of every number and choice the rates depend on, for caches of work derived
    /// from the model (two models with equal digests give equal rates).
    pub fn fingerprint(&self) -> u64 {
        let mut h = Digest(self.switching_fingerprint());
        for c in &self.compartments {
            h.words(&[c.birth, c.death, c.capacity]);
            h.word(c.growth as u64);
            h.words(&c.competition);
            for effects in [&c.kill, &c.cytostatic, &c.capacity_effects] {
                h.word(effects.len() as u64);
                for e in effects {
                    h.word(e.shape as u64);
                    h.words(&[e.scale]);
                }
            }
        }
        for m in &self.mutations {
            h.word(m.from as u64);
            h.word(m.to as u64);
            h.words(&[m.probability]);
        }
        h.0
    }

    /// A digest of everything the switching rates depend on (the compartments' number, the
    /// transitions, the drugs' activity curves and the response shapes): two models with
    /// equal digests switch alike at every exposure, whatever their other parameters.
    pub fn switching_fingerprint(&self) -> u64 {
        let mut h = Digest(self.shape_fingerprint());
        h.word(self.compartments.len() as u64);
        for t in &self.transitions {
            h.word(t.from as u64);
            h.word(t.to as u64);
            h.words(&[t.rate]);
            match t.modulation {
                Modulation::Spontaneous => h.word(0),
                Modulation::OffDrug => h.word(1),
                Modulation::Induced(e) => {
                    h.word(2 + e.shape as u64);
                    h.words(&[e.scale]);
                }
            }
        }
        for a in &self.activity {
            match a {
                None => h.word(u64::MAX),
                Some(e) => {
                    h.word(e.shape as u64);
                    h.words(&[e.scale]);
                }
            }
        }
        h.0
    }

    /// A digest of the response curves' shapes (drug, EC50, Hill n): two models with equal
    /// digests turn an exposure into equal [`Model::shape_values`].
    pub fn shape_fingerprint(&self) -> u64 {
        let mut h = Digest::default();
        for (drug, shape) in &self.shapes {
            h.word(*drug as u64);
            match *shape {
                Shape::Linear => h.word(0),
                Shape::Hill { ec50, n } => h.words(&[ec50, n]),
            }
        }
        h.0
    }

    /// A buffer for [`Model::rate_parts`], sized for this model.
    pub fn new_rate_parts(&self) -> RateParts {
        RateParts {
            growth: vec![0.0; self.compartments.len()],
            crowding: vec![0.0; self.compartments.len()],
            loss: vec![0.0; self.compartments.len()],
            transition: vec![0.0; self.transitions.len()],
            shape_values: vec![0.0; self.shapes.len()],
        }
    }

    /// The crowding scalar of compartment `i` in state `n`: `Σ_j a_ij N_j` (logistic), its
    /// logarithm (Gompertz), 0 (exponential). `None` for a Gompertz compartment with nothing
    /// crowding it, which does not grow at all (as in [`Model::rates`]).
    #[inline]
    pub fn crowding(&self, i: usize, n: &[f64]) -> Option<f64> {
        let c = &self.compartments[i];
        match c.growth {
            GrowthLaw::Exponential => Some(0.0),
            GrowthLaw::Logistic | GrowthLaw::Gompertz => {
                let crowd = c.crowd(n);
                if c.growth == GrowthLaw::Logistic {
                    Some(crowd)
                } else if crowd > 0.0 {
                    Some(crowd.ln())
                } else {
                    None
                }
            }
        }
    }

    /// Rates at exposure `exposure` split from the crowding (see [`RateParts`]).
    pub fn rate_parts(&self, exposure: &[f64], out: &mut RateParts) {
        self.shape_values(exposure, &mut out.shape_values);
        self.rate_parts_from_shapes(out);
    }

    /// The rate parts for the shapes' values already in `out.shape_values` (engines that
    /// keep the values of an exposure and vary the model, as across virtual patients).
    pub fn rate_parts_from_shapes(&self, out: &mut RateParts) {
        let sv = &out.shape_values;
        for (i, c) in self.compartments.iter().enumerate() {
            let free = c.birth * (1.0 - total_effect(&c.cytostatic, sv));
            let k = c.capacity * capacity_factor(&c.capacity_effects, sv);
            (out.growth[i], out.crowding[i]) = match c.growth {
                GrowthLaw::Exponential => (free, 0.0),
                GrowthLaw::Logistic => (free, free / k),
                GrowthLaw::Gompertz => (free * k.ln(), free),
            };
            out.loss[i] = c.death + total_effect(&c.kill, sv);
        }
        self.transition_rates(sv, &mut out.transition);
    }

    /// The rates in state `n` from the parts of one exposure (what [`Model::rates`] gives, up
    /// to rounding), for callers that see one exposure with many states.
    pub fn rates_from_parts(&self, parts: &RateParts, n: &[f64], out: &mut Rates) {
        for i in 0..self.compartments.len() {
            let net = match self.crowding(i, n) {
                Some(x) => parts.growth[i] - x * parts.crowding[i],
                None => 0.0,
            };
            out.birth[i] = net.max(0.0);
            out.death[i] = (-net).max(0.0) + parts.loss[i];
        }
        out.transition.copy_from_slice(&parts.transition);
    }

    /// Each shape's value at `exposure` (one per [`Model::shapes`]).
    pub fn shape_values(&self, exposure: &[f64], out: &mut [f64]) {
        for (value, (drug, shape)) in out.iter_mut().zip(&self.shapes) {
            let c = exposure[*drug];
            *value = if c <= 0.0 {
                0.0
            } else {
                match *shape {
                    Shape::Linear => c,
                    // 1 / (1 + (ec50/C)ⁿ): no overflow for large C.
                    Shape::Hill { ec50, n } => 1.0 / (1.0 + (ec50 / c).powf(n)),
                }
            };
        }
    }

    /// Per-capita transition rates from the shapes' values.
    fn transition_rates(&self, sv: &[f64], out: &mut [f64]) {
        let off_drug = 1.0
            - self
                .activity
                .iter()
                .map(|a| a.map_or(0.0, |e| e.value(sv).clamp(0.0, 1.0)))
                .fold(0.0, f64::max);
        for (t, out_rate) in self.transitions.iter().zip(out.iter_mut()) {
            *out_rate = t.rate
                * match t.modulation {
                    Modulation::Spontaneous => 1.0,
                    Modulation::Induced(e) => e.value(sv),
                    Modulation::OffDrug => off_drug,
                };
        }
    }

    /// Per-capita rates for state `n` (cell counts) under drug exposures `exposure`.
    ///
    /// Net growth `b_i·g_i·(1 − E_cytostatic)` is split into its positive part (births) and
    /// its negative part (deaths), so no rate is ever negative.
    pub fn rates(&self, n: &[f64], exposure: &[f64], out: &mut Rates) {
        self.shape_values(exposure, &mut out.shape_values);
        let sv = &out.shape_values;
        for (i, c) in self.compartments.iter().enumerate() {
            let g = match c.growth {
                GrowthLaw::Exponential => 1.0,
                GrowthLaw::Logistic | GrowthLaw::Gompertz => {
                    let crowd = c.crowd(n);
                    let k = c.capacity * capacity_factor(&c.capacity_effects, sv);
                    if c.growth == GrowthLaw::Logistic {
                        1.0 - crowd / k
                    } else if crowd > 0.0 {
                        (k / crowd).ln()
                    } else {
                        // An empty tumour: no cells for the rate to act on.
                        0.0
                    }
                }
            };
            let cytostatic: f64 = total_effect(&c.cytostatic, sv);
            let net = c.birth * g * (1.0 - cytostatic);
            let kill: f64 = total_effect(&c.kill, sv);
            out.birth[i] = net.max(0.0);
            out.death[i] = (-net).max(0.0) + c.death + kill;
        }
        self.transition_rates(sv, &mut out.transition);
    }

    /// Mean-field derivative `dN/dt` built from [`Model::rates`]:
    /// `dN_i/dt = birth_i N_i (1 − Σ_j μ_ij) − death_i N_i − Σ_j τ_ij N_i + Σ_k τ_ki N_k
    ///  + Σ_k birth_k μ_ki N_k`.
    pub fn derivative(&self, n: &[f64], exposure: &[f64], rates: &mut Rates, dn: &mut [f64]) {
        self.rates(n, exposure, rates);
        for i in 0..n.len() {
            dn[i] = (rates.birth[i] - rates.death[i]) * n[i];
        }
        for m in &self.mutations {
            let flow = rates.birth[m.from] * m.probability * n[m.from];
            dn[m.from] -= flow;
            dn[m.to] += flow;
        }
        for (t, &r) in self.transitions.iter().zip(&rates.transition) {
            let flow = r * n[t.from];
            dn[t.from] -= flow;
            dn[t.to] += flow;
        }
    }
}

#[inline]
fn total_effect(effects: &[DrugEffect], shape_values: &[f64]) -> f64 {
    effects.iter().map(|e| e.value(shape_values)).sum()
}

/// `1 − ΣE`, floored so the capacity stays positive whatever the drug does.
#[inline]
fn capacity_factor(effects: &[DrugEffect], shape_values: &[f64]) -> f64 {
    if effects.is_empty() {
        return 1.0;
    }
    (1.0 - total_effect(effects, shape_values)).max(1e-12)
}

/// A running digest of words (SplitMix64 mixing), for [`Model::fingerprint`].
#[derive(Default)]
struct Digest(u64);

impl Digest {
    fn word(&mut self, w: u64) {
        self.0 = crate::support::rng::mix64(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ w);
    }

    fn words(&mut self, values: &[f64]) {
        for v in values {
            self.word(v.to_bits());
        }
    }
}
