//! What the clinic sees: a marker measured at visits (weighted burden, with optional
//! log-normal noise and a detection limit), and the rules that call progression from it.

use crate::support::rng::{Key, ROLLOUT_LEVEL_STEP};
use rand_distr::{Distribution, StandardNormal};

/// What a policy learns at a visit: the measured marker, nothing else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// Visit time.
    pub time: f64,
    /// The measured marker (with noise, if the scenario has any).
    pub value: f64,
    /// False when the value is below the detection limit.
    pub detected: bool,
}

/// Which noise a run's visits see: keyed by seed and rollout, so every arm of one rollout
/// sees the same measurement error at the same visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoiseKey {
    /// The run's seed.
    pub seed: u64,
    /// The rollout (0 for a deterministic run).
    pub rollout: u64,
}

/// Channel of the measurement-noise draws in the rollout-level streams.
const NOISE_CHANNEL: u64 = 1;

/// How the marker is measured.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkerModel {
    /// Weight of each compartment in the marker.
    pub weights: Vec<f64>,
    /// Visit interval; the first visit is at time 0.
    pub every: f64,
    /// Coefficient of variation of multiplicative log-normal noise (0: exact).
    pub noise_cv: f64,
    /// Marker values below this are not detected (0: no limit).
    pub detection_limit: f64,
}

impl MarkerModel {
    /// The true (noise-free) marker of state `n`.
    pub fn true_value(&self, n: &[f64]) -> f64 {
        self.weights.iter().zip(n).map(|(w, x)| w * x).sum()
    }

    /// The observation at visit number `visit` (time `time`). With a noise key and a
    /// non-zero CV, the value is multiplied by a mean-one log-normal factor drawn from a
    /// stream keyed by (seed, rollout, visit) alone, so every arm sees the same noise at the
    /// same visit.
    pub fn observe(
        &self,
        n: &[f64],
        time: f64,
        visit: u64,
        noise: Option<NoiseKey>,
    ) -> Observation {
        let mut value = self.true_value(n);
        if let Some(key) = noise
            && self.noise_cv > 0.0
        {
            let sigma2 = (1.0 + self.noise_cv * self.noise_cv).ln();
            let mut rng = Key {
                seed: key.seed,
                rollout: key.rollout,
                step: ROLLOUT_LEVEL_STEP,
                unit: visit,
                channel: NOISE_CHANNEL,
            }
            .stream();
            let z: f64 = StandardNormal.sample(&mut rng);
            value *= (sigma2.sqrt() * z - 0.5 * sigma2).exp();
        }
        Observation {
            time,
            value,
            detected: value >= self.detection_limit,
        }
    }
}

/// What a rise is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The smallest value so far, baseline included (RECIST 1.1's "smallest sum on study").
    Nadir,
    /// The pre-treatment (time-0) value: used for arms whose protocol lets the marker
    /// return to baseline on purpose (adaptive therapy).
    Baseline,
}

/// How tumour burden maps to the diameter RECIST measures: the marker is read as a volume
/// (`units_per_cm3` marker units per cm³) and the lesion as the sphere of that volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesion {
    /// Marker units per cm³ of tumour.
    pub units_per_cm3: f64,
    /// The smallest absolute increase of the diameter that counts, in mm (RECIST 1.1: 5).
    pub min_increase_mm: f64,
}

impl Lesion {
    /// Diameter (mm) of the sphere holding `marker` units of tumour.
    pub fn diameter_mm(&self, marker: f64) -> f64 {
        let volume = marker.max(0.0) / self.units_per_cm3;
        10.0 * (6.0 * volume / std::f64::consts::PI).cbrt()
    }

    /// Marker units in a sphere of diameter `mm`.
    pub fn marker_of_diameter(&self, mm: f64) -> f64 {
        std::f64::consts::PI / 6.0 * (mm.max(0.0) / 10.0).powi(3) * self.units_per_cm3
    }
}

/// When progression is called. Every rule needs a detected, positive value: a patient with
/// no detectable disease cannot progress until disease is detectable again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ProgressionRule {
    /// RECIST 1.1 (Eisenhauer 2009) on the spherical-equivalent diameter: diameter ≥ factor ×
    /// the reference diameter and at least `lesion.min_increase_mm` above it. An undetected
    /// lesion measures 0 mm, so its reappearance is progression, as in RECIST.
    Recist {
        /// The rise of the diameter over the reference that is progression (1.2 = 20 %).
        factor: f64,
        /// How burden maps to a lesion diameter.
        lesion: Lesion,
        /// What the rise is measured from.
        reference: Reference,
    },
    /// Marker ≥ factor × nadir (nadir includes baseline).
    RiseOverNadir {
        /// The rise over the nadir that is progression (1.2 = 20 %).
        factor: f64,
    },
    /// Marker > factor × baseline (Strobl 2021 uses 1.2).
    AboveBaseline {
        /// The multiple of baseline that is progression.
        factor: f64,
    },
    /// PCWG3 PSA progression (Scher 2016): a rise ≥ `rise` (0.25) over the nadir and
    /// ≥ `min_rise` marker units (2 ng/mL) above it, confirmed by a value that still meets
    /// both at the first visit ≥ `confirm_after` later; the progression time is the first of
    /// the two. Without any decline below baseline, not before `no_decline_wait`.
    Pcwg3 {
        /// Relative rise over the nadir (0.25).
        rise: f64,
        /// Smallest absolute rise, in marker units (2 ng/mL as marker units).
        min_rise: f64,
        /// Time after which the rise must be confirmed.
        confirm_after: f64,
        /// Without a decline below baseline, no progression before this time.
        no_decline_wait: f64,
    },
}

impl ProgressionRule {
    /// The rule's word in scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            ProgressionRule::Recist { .. } => "recist",
            ProgressionRule::RiseOverNadir { .. } => "rise_over_nadir",
            ProgressionRule::AboveBaseline { .. } => "above_baseline",
            ProgressionRule::Pcwg3 { .. } => "pcwg3",
        }
    }

    /// The rule in a few words, for legends and reports.
    pub fn describe(&self) -> String {
        match self {
            ProgressionRule::Recist {
                factor,
                lesion,
                reference,
            } => format!(
                "RECIST 1.1: diameter ≥ {factor} × {} and +{} mm",
                match reference {
                    Reference::Nadir => "nadir",
                    Reference::Baseline => "baseline",
                },
                fmt_num(lesion.min_increase_mm)
            ),
            ProgressionRule::RiseOverNadir { factor } => format!("marker ≥ {factor} × nadir"),
            ProgressionRule::AboveBaseline { factor } => format!("marker > {factor} × baseline"),
            ProgressionRule::Pcwg3 { rise, .. } => {
                format!(
                    "PCWG3: +{}% and +2 ng/mL over nadir, confirmed",
                    fmt_num(rise * 100.0)
                )
            }
        }
    }

    /// The marker over its baseline at or below which a visit counts as a response:
    /// RECIST 1.1's partial response, a 30 % fall of the diameter (0.7³ = 0.343 of the
    /// burden); for a marker rule (PSA and the like), a 50 % fall (the PSA50 response of
    /// PCWG3 reports).
    pub fn response_fraction(&self) -> f64 {
        match self {
            ProgressionRule::Recist { .. } => 0.7f64.powi(3),
            _ => 0.5,
        }
    }

    /// The rule for a marker counted in cells when it was written for `scale` cells per
    /// marker unit (the stochastic engine's view of a scenario in fractions).
    pub fn in_cells(self, scale: f64) -> Self {
        match self {
            ProgressionRule::Recist {
                factor,
                lesion,
                reference,
            } => ProgressionRule::Recist {
                factor,
                lesion: Lesion {
                    units_per_cm3: lesion.units_per_cm3 * scale,
                    ..lesion
                },
                reference,
            },
            ProgressionRule::Pcwg3 {
                rise,
                min_rise,
                confirm_after,
                no_decline_wait,
            } => ProgressionRule::Pcwg3 {
                rise,
                min_rise: min_rise * scale,
                confirm_after,
                no_decline_wait,
            },
            other => other,
        }
    }

    /// A simple factor on the marker, where the rule has one (for caps and plots).
    pub fn marker_factor(&self) -> f64 {
        match *self {
            ProgressionRule::Recist { factor, .. } => factor.powi(3),
            ProgressionRule::RiseOverNadir { factor }
            | ProgressionRule::AboveBaseline { factor } => factor,
            ProgressionRule::Pcwg3 { rise, .. } => 1.0 + rise,
        }
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// Follows the observations of one run and calls progression.
#[derive(Debug, Clone)]
pub struct ProgressionTracker {
    rule: ProgressionRule,
    /// In the rule's measure (diameter in mm for RECIST, the marker otherwise).
    baseline: Option<f64>,
    nadir: f64,
    /// A PCWG3 rise awaiting confirmation: (its time, the nadir it was measured from).
    pending: Option<(f64, f64)>,
    progressed_at: Option<f64>,
}

impl ProgressionTracker {
    /// A tracker of `rule` before the first visit.
    pub fn new(rule: ProgressionRule) -> Self {
        ProgressionTracker {
            rule,
            baseline: None,
            nadir: f64::INFINITY,
            pending: None,
            progressed_at: None,
        }
    }

    /// The observation in the rule's measure.
    fn measure(&self, obs: &Observation) -> f64 {
        match self.rule {
            ProgressionRule::Recist { lesion, .. } if obs.detected => lesion.diameter_mm(obs.value),
            ProgressionRule::Recist { .. } => 0.0,
            _ => obs.value,
        }
    }

    /// Whether `m`, observed as `obs`, is progression against `reference`.
    fn meets(&self, m: f64, obs: &Observation, reference: f64, baseline: f64) -> bool {
        if !obs.detected || m <= 0.0 {
            return false;
        }
        match self.rule {
            ProgressionRule::Recist { factor, lesion, .. } => {
                m >= factor * reference && m - reference >= lesion.min_increase_mm * (1.0 - 1e-12)
            }
            ProgressionRule::RiseOverNadir { factor } => m >= factor * reference,
            ProgressionRule::AboveBaseline { factor } => m > factor * baseline,
            ProgressionRule::Pcwg3 {
                rise,
                min_rise,
                no_decline_wait,
                ..
            } => {
                let declined = reference < baseline;
                m >= (1.0 + rise) * reference
                    && m - reference >= min_rise * (1.0 - 1e-12)
                    && (declined || obs.time >= no_decline_wait * (1.0 - 1e-12))
            }
        }
    }

    fn reference(&self, baseline: f64) -> f64 {
        match self.rule {
            ProgressionRule::Recist {
                reference: Reference::Baseline,
                ..
            } => baseline,
            _ => self.nadir,
        }
    }

    /// Takes one visit; returns true if progression is decided at this visit. The
    /// progression time ([`Self::progressed_at`]) is this visit, or for PCWG3 the visit the
    /// confirmed rise was first seen.
    pub fn update(&mut self, obs: &Observation) -> bool {
        if self.progressed_at.is_some() {
            return false;
        }
        let m = self.measure(obs);
        let Some(baseline) = self.baseline else {
            self.baseline = Some(m);
            self.nadir = m;
            return false;
        };
        let mut decided = false;
        if let (Some((first, reference)), ProgressionRule::Pcwg3 { confirm_after, .. }) =
            (self.pending, self.rule)
            && obs.time - first >= confirm_after * (1.0 - 1e-12)
        {
            self.pending = None;
            if self.meets(m, obs, reference, baseline) {
                self.progressed_at = Some(first);
                decided = true;
            }
        }
        if !decided && self.pending.is_none() {
            let reference = self.reference(baseline);
            if self.meets(m, obs, reference, baseline) {
                match self.rule {
                    ProgressionRule::Pcwg3 { .. } => self.pending = Some((obs.time, reference)),
                    _ => {
                        self.progressed_at = Some(obs.time);
                        decided = true;
                    }
                }
            }
        }
        self.nadir = self.nadir.min(m);
        decided
    }

    /// When progression happened (decided at this or a later visit).
    pub fn progressed_at(&self) -> Option<f64> {
        self.progressed_at
    }

    /// The marker value the next visit must reach (strictly exceed, for `above_baseline`)
    /// for the rule to fire, detection aside; `None` before the baseline visit or after
    /// progression.
    pub fn threshold(&self) -> Option<f64> {
        let baseline = self.baseline?;
        if self.progressed_at.is_some() {
            return None;
        }
        let reference = self.reference(baseline);
        Some(match self.rule {
            ProgressionRule::Recist { factor, lesion, .. } => lesion
                .marker_of_diameter((factor * reference).max(reference + lesion.min_increase_mm)),
            ProgressionRule::RiseOverNadir { factor } => factor * reference,
            ProgressionRule::AboveBaseline { factor } => factor * baseline,
            ProgressionRule::Pcwg3 { rise, min_rise, .. } => {
                let reference = self.pending.map_or(reference, |p| p.1);
                ((1.0 + rise) * reference).max(reference + min_rise)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(time: f64, value: f64) -> Observation {
        Observation {
            time,
            value,
            detected: value >= 10.0,
        }
    }

    #[test]
    fn rise_over_nadir_measures_from_nadir_and_needs_detection() {
        let mut p = ProgressionTracker::new(ProgressionRule::RiseOverNadir { factor: 1.2 });
        assert!(!p.update(&obs(0.0, 100.0)));
        assert!(!p.update(&obs(1.0, 5.0))); // nadir 5, below detection
        assert!(!p.update(&obs(2.0, 8.0))); // +60 % but not detected
        assert!(p.update(&obs(3.0, 12.0)));
        assert_eq!(p.progressed_at(), Some(3.0));
    }

    #[test]
    fn above_baseline_ignores_nadir() {
        let mut p = ProgressionTracker::new(ProgressionRule::AboveBaseline { factor: 1.2 });
        p.update(&obs(0.0, 100.0));
        assert!(!p.update(&obs(1.0, 20.0)));
        assert!(!p.update(&obs(2.0, 120.0)));
        assert!(p.update(&obs(3.0, 121.0)));
    }

    fn exact(time: f64, value: f64) -> Observation {
        Observation {
            time,
            value,
            detected: value > 0.0,
        }
    }

    /// An extinct tumour (nadir 0, detection limit 0) is not progression: `0 ≥ 1.2 × 0`
    /// used to hold. Checked for every rule.
    #[test]
    fn an_extinct_tumour_never_progresses() {
        let lesion = Lesion {
            units_per_cm3: 1e9,
            min_increase_mm: 5.0,
        };
        for rule in [
            ProgressionRule::RiseOverNadir { factor: 1.2 },
            ProgressionRule::AboveBaseline { factor: 1.2 },
            ProgressionRule::Recist {
                factor: 1.2,
                lesion,
                reference: Reference::Nadir,
            },
            ProgressionRule::Pcwg3 {
                rise: 0.25,
                min_rise: 2.0,
                confirm_after: 21.0,
                no_decline_wait: 84.0,
            },
        ] {
            let mut p = ProgressionTracker::new(rule);
            p.update(&exact(0.0, 1e10));
            for k in 1..20 {
                assert!(!p.update(&exact(k as f64 * 28.0, 0.0)), "{rule:?}");
            }
            assert_eq!(p.progressed_at(), None, "{rule:?}");
        }
    }

    /// RECIST on the spherical-equivalent diameter: 1e9 cells per cm³, so 1e10 cells is a
    /// 26.7 mm sphere. A 1.2 × rise in *volume* (the old rule) is only +6.3 % in diameter and
    /// no progression; RECIST needs ≥ 1.2³ ≈ 1.728 × the nadir volume and ≥ 5 mm.
    #[test]
    fn recist_works_on_diameters_with_a_5_mm_floor() {
        let lesion = Lesion {
            units_per_cm3: 1e9,
            min_increase_mm: 5.0,
        };
        assert!((lesion.diameter_mm(1e10) - 26.73).abs() < 0.01);
        assert!((lesion.marker_of_diameter(lesion.diameter_mm(3e9)) / 3e9 - 1.0).abs() < 1e-12);
        let rule = ProgressionRule::Recist {
            factor: 1.2,
            lesion,
            reference: Reference::Nadir,
        };
        let mut p = ProgressionTracker::new(rule);
        p.update(&exact(0.0, 1e10));
        assert!(
            !p.update(&exact(56.0, 1.25e10)),
            "1.25 × volume is +7.7 % in diameter"
        );
        assert!(!p.update(&exact(112.0, 1.70e10)));
        assert!(p.update(&exact(168.0, 1.75e10)));
        assert_eq!(p.progressed_at(), Some(168.0));
        // Small lesions: 20 % of a 10 mm diameter is 2 mm, so the 5 mm floor decides.
        let mut p = ProgressionTracker::new(rule);
        let v10 = lesion.marker_of_diameter(10.0);
        p.update(&exact(0.0, v10));
        assert!(!p.update(&exact(56.0, lesion.marker_of_diameter(14.9))));
        assert!(p.update(&exact(112.0, lesion.marker_of_diameter(15.0))));
        // Reappearance after the lesion went undetected is progression (RECIST 1.1).
        let mut p = ProgressionTracker::new(rule);
        p.update(&exact(0.0, v10));
        assert!(!p.update(&Observation {
            time: 56.0,
            value: 1.0,
            detected: false
        }));
        assert!(p.update(&exact(112.0, lesion.marker_of_diameter(11.0))));
    }

    /// The adaptive-therapy reading: measured from the pre-treatment baseline, a planned
    /// regrowth back to baseline after a 50 % response is not progression.
    #[test]
    fn recist_from_baseline_lets_the_marker_return_to_baseline() {
        let lesion = Lesion {
            units_per_cm3: 1e9,
            min_increase_mm: 5.0,
        };
        let mut from_nadir = ProgressionTracker::new(ProgressionRule::Recist {
            factor: 1.2,
            lesion,
            reference: Reference::Nadir,
        });
        let mut from_baseline = ProgressionTracker::new(ProgressionRule::Recist {
            factor: 1.2,
            lesion,
            reference: Reference::Baseline,
        });
        for (t, v) in [(0.0, 1e10), (56.0, 3e9), (112.0, 1e10)] {
            from_nadir.update(&exact(t, v));
            from_baseline.update(&exact(t, v));
        }
        assert_eq!(from_nadir.progressed_at(), Some(112.0));
        assert_eq!(from_baseline.progressed_at(), None);
        assert!(from_baseline.update(&exact(168.0, 1.8e10)));
    }

    /// PCWG3 (Scher 2016): +25 % and +2 ng/mL over the nadir, confirmed ≥ 3 weeks later;
    /// the progression time is the first of the two values.
    #[test]
    fn pcwg3_needs_confirmation_and_dates_progression_at_the_first_rise() {
        let rule = ProgressionRule::Pcwg3 {
            rise: 0.25,
            min_rise: 2.0,
            confirm_after: 21.0,
            no_decline_wait: 84.0,
        };
        let mut p = ProgressionTracker::new(rule);
        p.update(&exact(0.0, 20.0));
        p.update(&exact(28.0, 4.0)); // nadir 4
        assert!(!p.update(&exact(56.0, 5.5))); // +37 % but only +1.5 ng/mL
        assert!(!p.update(&exact(84.0, 6.5))); // +62 %, +2.5: a candidate
        assert!(!p.update(&exact(98.0, 7.0))); // two weeks later: too soon to confirm
        assert!(p.update(&exact(112.0, 7.5))); // four weeks later: confirmed
        assert_eq!(p.progressed_at(), Some(84.0));
        // A rise that falls back is not confirmed.
        let mut p = ProgressionTracker::new(rule);
        p.update(&exact(0.0, 20.0));
        p.update(&exact(28.0, 4.0));
        assert!(!p.update(&exact(56.0, 6.5)));
        assert!(!p.update(&exact(84.0, 5.0)));
        assert_eq!(p.progressed_at(), None);
        // Without a decline, not before 12 weeks.
        let mut p = ProgressionTracker::new(rule);
        p.update(&exact(0.0, 10.0));
        assert!(!p.update(&exact(28.0, 14.0)));
        assert!(!p.update(&exact(56.0, 15.0)));
        assert!(!p.update(&exact(84.0, 16.0))); // candidate at 12 weeks
        assert!(p.update(&exact(112.0, 17.0)));
        assert_eq!(p.progressed_at(), Some(84.0));
    }

    #[test]
    fn thresholds_are_what_the_next_visit_must_reach() {
        let mut p = ProgressionTracker::new(ProgressionRule::RiseOverNadir { factor: 1.2 });
        assert_eq!(p.threshold(), None);
        p.update(&exact(0.0, 100.0));
        p.update(&exact(1.0, 50.0));
        assert_eq!(p.threshold(), Some(60.0));
        let mut p = ProgressionTracker::new(ProgressionRule::Pcwg3 {
            rise: 0.25,
            min_rise: 2.0,
            confirm_after: 21.0,
            no_decline_wait: 84.0,
        });
        p.update(&exact(0.0, 4.0));
        assert_eq!(p.threshold(), Some(6.0)); // +2 ng/mL beats +25 %
    }

    fn key(seed: u64) -> Option<NoiseKey> {
        Some(NoiseKey { seed, rollout: 0 })
    }

    #[test]
    fn noise_is_keyed_by_visit_and_mean_one() {
        let m = MarkerModel {
            weights: vec![1.0],
            every: 1.0,
            noise_cv: 0.3,
            detection_limit: 0.0,
        };
        let a = m.observe(&[100.0], 0.0, 7, key(1)).value;
        let b = m.observe(&[100.0], 0.0, 7, key(1)).value;
        assert_eq!(a, b);
        assert_ne!(a, m.observe(&[100.0], 0.0, 8, key(1)).value);
        // Mean of 20000 mean-one log-normal factors with CV 0.3: standard error
        // 0.3/√20000 ≈ 0.0021, so 5 SE ≈ 0.011.
        let mean: f64 = (0..20_000)
            .map(|v| m.observe(&[1.0], 0.0, v, key(3)).value)
            .sum::<f64>()
            / 20_000.0;
        assert!((mean - 1.0).abs() < 0.011, "mean {mean}");
    }
}
