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

    /// Per-capita rates for state `n` (cell counts) under drug exposures `exposure`.
    ///
    /// Net growth `b_i·g_i·(1 − E_cytostatic)` is split into its positive part (births) and
    /// its negative part (deaths), so no rate is ever negative.
    pub fn rates(&self, n: &[f64], exposure: &[f64], out: &mut Rates) {
        for (value, (drug, shape)) in out.shape_values.iter_mut().zip(&self.shapes) {
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
        let sv = &out.shape_values;
        for (i, c) in self.compartments.iter().enumerate() {
            let g = match c.growth {
                GrowthLaw::Exponential => 1.0,
                GrowthLaw::Logistic | GrowthLaw::Gompertz => {
                    let crowd: f64 = c.competition.iter().zip(n).map(|(a, x)| a * x).sum();
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
        let off_drug = 1.0
            - self
                .activity
                .iter()
                .map(|a| a.map_or(0.0, |e| e.value(sv).clamp(0.0, 1.0)))
                .fold(0.0, f64::max);
        for (t, out_rate) in self.transitions.iter().zip(out.transition.iter_mut()) {
            *out_rate = t.rate
                * match t.modulation {
                    Modulation::Spontaneous => 1.0,
                    Modulation::Induced(e) => e.value(sv),
                    Modulation::OffDrug => off_drug,
                };
        }
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
