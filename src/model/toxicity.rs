//! Toxicity budgets: a cap on a drug's cumulative dose and on its time on drug within any
//! trailing window. The driver passes every dose through a [`ToxicityGuard`], which reduces
//! or withholds the doses that would break a budget and counts them.

use crate::model::pk::{Dose, Kinetics};

/// A drug's budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Most cumulative dose (amount for PK drugs, level × time for dose levels).
    pub max_cumulative: Option<f64>,
    /// (time on, window): at most `on` time units on drug in any window of `window`.
    pub max_time_on: Option<(f64, f64)>,
}

/// Tracks the budgets of every drug through one run.
#[derive(Debug, Clone)]
pub struct ToxicityGuard {
    budgets: Vec<Option<Budget>>,
    kinetics: Vec<Kinetics>,
    used: Vec<f64>,
    /// Per drug: (start, end) of the doses in effect recently.
    recent: Vec<Vec<(f64, f64)>>,
    /// Doses reduced or withheld so far.
    pub clipped: u32,
}

/// Rounding slack when comparing times and amounts.
const EPS: f64 = 1e-9;

impl ToxicityGuard {
    /// A ledger of `budgets` (one per drug, `None`: no budget) for drugs of `kinetics`.
    pub fn new(budgets: Vec<Option<Budget>>, kinetics: Vec<Kinetics>) -> Self {
        let n = budgets.len();
        ToxicityGuard {
            budgets,
            kinetics,
            used: vec![0.0; n],
            recent: vec![Vec::new(); n],
            clipped: 0,
        }
    }

    /// How much a dose counts against the cumulative budget.
    fn weight(&self, dose: &Dose) -> f64 {
        match self.kinetics.get(dose.drug) {
            Some(Kinetics::Level) => dose.amount * dose.duration,
            _ => dose.amount,
        }
    }

    /// Lets `dose` (given at `t`) through, possibly reduced; `false` withholds it.
    pub fn admit(&mut self, t: f64, dose: &mut Dose) -> bool {
        let Some(Some(budget)) = self.budgets.get(dose.drug).copied() else {
            return true;
        };
        let d = dose.drug;
        if let Some((on, window)) = budget.max_time_on {
            // The window that ends where this dose would end.
            let start = t + dose.duration - window;
            self.recent[d].retain(|&(_, end)| end > start + EPS);
            let used: f64 = self.recent[d]
                .iter()
                .map(|&(s, e)| e.min(t) - s.max(start))
                .filter(|x| *x > 0.0)
                .sum();
            if used + dose.duration > on + EPS {
                self.clipped += 1;
                return false;
            }
        }
        if let Some(max) = budget.max_cumulative {
            let weight = self.weight(dose);
            let left = max - self.used[d];
            if left <= EPS {
                self.clipped += 1;
                return false;
            }
            if weight > left + EPS {
                dose.amount *= left / weight;
                self.clipped += 1;
            }
        }
        self.used[d] += self.weight(dose);
        self.recent[d].push((t, t + dose.duration));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dose(t_amount: f64) -> Dose {
        Dose {
            drug: 0,
            amount: t_amount,
            duration: 1.0,
        }
    }

    #[test]
    fn cumulative_budget_reduces_then_withholds() {
        let mut g = ToxicityGuard::new(
            vec![Some(Budget {
                max_cumulative: Some(2.5),
                max_time_on: None,
            })],
            vec![Kinetics::Level],
        );
        let mut given = Vec::new();
        for day in 0..4 {
            let mut d = dose(1.0);
            if g.admit(day as f64, &mut d) {
                given.push(d.amount);
            }
        }
        assert_eq!(given, vec![1.0, 1.0, 0.5]);
        assert_eq!(g.clipped, 2);
    }

    #[test]
    fn time_on_window_withholds_doses_beyond_it() {
        // At most 3 days on in any 5-day window, dosing daily.
        let mut g = ToxicityGuard::new(
            vec![Some(Budget {
                max_cumulative: None,
                max_time_on: Some((3.0, 5.0)),
            })],
            vec![Kinetics::Level],
        );
        let given: Vec<bool> = (0..10)
            .map(|day| g.admit(day as f64, &mut dose(1.0)))
            .collect();
        assert_eq!(
            given,
            vec![
                true, true, true, false, false, true, true, true, false, false
            ]
        );
        assert_eq!(g.clipped, 4);
        // Every window of 5 days holds at most 3 days on drug (checked by hand above:
        // days 0–2 and 5–7).
    }
}
