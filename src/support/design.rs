//! Space-filling designs: deterministic, evenly spread points of the unit cube for
//! multi-start searches (optimise's families, fit's starts).

/// The `i`-th point (i ≥ 1) of the Halton sequence in `dims` dimensions.
pub fn halton(i: u64, dims: usize) -> Vec<f64> {
    const PRIMES: [u64; 8] = [2, 3, 5, 7, 11, 13, 17, 19];
    (0..dims)
        .map(|d| {
            let base = PRIMES[d % PRIMES.len()];
            let (mut f, mut r, mut n) = (1.0, 0.0, i);
            while n > 0 {
                f /= base as f64;
                r += f * (n % base) as f64;
                n /= base;
            }
            r
        })
        .collect()
}
