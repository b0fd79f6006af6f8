//! From runs to numbers: what many runs of an arm amount to ([`summary`]), survival analysis
//! ([`survival`]), and arms contrasted with a reference arm ([`contrast`]).

pub mod contrast;
pub mod summary;
pub mod survival;

/// The q-quantile of `xs` (linear interpolation; non-finite values dropped; NaN when none
/// is left). `xs` is sorted in place.
pub fn quantile(xs: &mut Vec<f64>, q: f64) -> f64 {
    xs.retain(|x| x.is_finite());
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let pos = q * (xs.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let next = xs[(i + 1).min(xs.len() - 1)];
    xs[i] + frac * (next - xs[i])
}

/// The middle one of the finite `values` (the upper middle of an even count): a typical
/// value that is one of the values, for summaries over subjects.
pub fn middle(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}
