//! From subjects to a population, in two stages: each free parameter's estimates across
//! subjects summarised as a log-normal (location and spread of the log), with the
//! correlations of the logs (drawn where strong and well supported). This is not a mixed-effects (NLME) estimate: each subject's
//! estimation error inflates the spread, and subjects whose data barely inform a parameter
//! contribute their noisy estimate rather than being shrunk toward the population
//! (docs/fitting.md, "From subjects to a population").

use super::SubjectFit;

/// One parameter across subjects.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationParameter {
    /// Its path.
    pub path: String,
    /// exp(mean of the logs): the median of the fitted log-normal.
    pub median: f64,
    /// SD of the logs.
    pub omega: f64,
    /// The log-normal's coefficient of variation, √(exp(ω²) − 1).
    pub cv: f64,
    /// Subjects whose estimate entered (positive and identifiable).
    pub subjects: usize,
}

/// The population summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// Per free parameter.
    pub parameters: Vec<PopulationParameter>,
    /// Correlations of the logs between parameters (row-major, `parameters.len()`²), over
    /// subjects where both are identifiable.
    pub correlation: Vec<f64>,
    /// The number of subjects each correlation rests on (row-major, as `correlation`).
    pub pairs: Vec<usize>,
}

/// The two-stage summary of the first `n_free` parameters of every fit. Unidentifiable
/// estimates are left out (they carry the search's bounds, not the data).
pub fn summarise(fits: &[SubjectFit], n_free: usize) -> Population {
    let logs = |j: usize| -> Vec<Option<f64>> {
        fits.iter()
            .map(|f| {
                let p = &f.parameters[j];
                (p.identifiable && p.value > 0.0).then(|| p.value.ln())
            })
            .collect()
    };
    let columns: Vec<Vec<Option<f64>>> = (0..n_free).map(logs).collect();
    let mut parameters = Vec::new();
    for (j, col) in columns.iter().enumerate() {
        let xs: Vec<f64> = col.iter().flatten().copied().collect();
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n.max(1) as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
        let omega = var.sqrt();
        parameters.push(PopulationParameter {
            path: fits
                .first()
                .map_or_else(String::new, |f| f.parameters[j].path.clone()),
            median: if n > 0 { mean.exp() } else { f64::NAN },
            omega,
            cv: (omega * omega).exp_m1().sqrt(),
            subjects: n,
        });
    }
    let mut correlation = vec![0.0; n_free * n_free];
    let mut pairs = vec![0; n_free * n_free];
    for a in 0..n_free {
        for b in 0..n_free {
            correlation[a * n_free + b] = if a == b {
                1.0
            } else {
                pearson(&columns[a], &columns[b])
            };
            pairs[a * n_free + b] = columns[a]
                .iter()
                .zip(&columns[b])
                .filter(|(x, y)| x.is_some() && y.is_some())
                .count();
        }
    }
    Population {
        parameters,
        correlation,
        pairs,
    }
}

/// The typical measurement error: per error-model parameter, the middle of the subjects'
/// estimates (0 with no subjects).
pub fn typical_error(fits: &[SubjectFit], settings: &super::Settings) -> Vec<f64> {
    let n_free = settings.free.len();
    (0..settings.error.parameters().len())
        .map(|k| {
            crate::stats::middle(fits.iter().map(|f| f.parameters[n_free + k].value)).unwrap_or(0.0)
        })
        .collect()
}

/// Pearson correlation over the pairs where both are present (NaN with fewer than 3).
fn pearson(a: &[Option<f64>], b: &[Option<f64>]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .collect();
    let n = pairs.len() as f64;
    if pairs.len() < 3 {
        return f64::NAN;
    }
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let syy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    sxy / (sxx * syy).sqrt()
}
