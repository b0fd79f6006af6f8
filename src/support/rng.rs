//! Keyed random streams: every random draw of a rollout is taken from a stream named by
//! (seed, rollout, step, unit, channel), never from one sequential stream.
//!
//! Two arms run with the same seed therefore draw the same numbers wherever their states
//! agree (common random numbers), and a rollout's numbers do not depend on which thread ran
//! it or on how many draws other parts of the simulation made. The key is hashed with the
//! SplitMix64 finaliser and the digest starts a SplitMix64 stream (Steele, Lea & Flood 2014,
//! "Fast splittable pseudorandom number generators"): a counter stepped by the golden-ratio
//! increment and mixed, which passes BigCrush, costs a few cycles a draw and needs no seeding
//! work — most keys serve one to three draws. Both are fixed here, so a seed means the same
//! numbers on every platform and version.

use rand::TryRng;
use std::convert::Infallible;

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The generator behind every keyed stream: SplitMix64 from a key digest.
#[derive(Debug, Clone)]
pub struct Stream {
    state: u64,
}

impl Stream {
    /// The next 64 random bits.
    #[inline]
    pub fn next_word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix64(self.state)
    }
}

impl TryRng for Stream {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next_word() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Absorbs `w` into a two-lane digest `d` (different multipliers and rotations per lane; a
/// cheap step for cache keys, each lane to be finished by [`mix64`]).
#[inline]
pub fn absorb2(d: &mut [u64; 2], w: u64) {
    d[0] = (d[0] ^ w)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(29);
    d[1] = (d[1] ^ w)
        .wrapping_mul(0xd1b5_4a32_d192_ed03)
        .rotate_left(37);
}

/// Absorbs one more key word into a running hash.
#[inline]
fn absorb(h: u64, word: u64) -> u64 {
    mix64(h.wrapping_add(GOLDEN_GAMMA) ^ mix64(word))
}

/// What a stream is for. Units are compartments or flows; channels say which draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The run's seed.
    pub seed: u64,
    /// The rollout.
    pub rollout: u64,
    /// The time step (or a rollout-level marker).
    pub step: u64,
    /// The compartment or flow.
    pub unit: u64,
    /// Which draw of the unit.
    pub channel: u64,
}

impl Key {
    /// A 64-bit digest of the whole key.
    #[inline]
    pub fn digest(&self) -> u64 {
        let mut h = mix64(self.seed ^ 0x5265_6769_6d65_6e21); // "Regimen!"
        h = absorb(h, self.rollout);
        h = absorb(h, self.step);
        h = absorb(h, self.unit);
        absorb(h, self.channel)
    }

    /// The stream of this key.
    #[inline]
    pub fn stream(&self) -> Stream {
        Stream {
            state: self.digest(),
        }
    }
}

/// The keyed streams of one rollout's steps, derived cheaply: the (seed, rollout) digest once
/// per rollout, one absorb per step, and then per (unit, channel) slot a stream that is a
/// disjoint stretch of the step's SplitMix64 sequence — so a draw costs one mix and no key
/// digest. Slot `s` starts `s·2³²` words into the sequence; no slot uses that many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutKey(u64);

impl RolloutKey {
    /// The key of rollout `rollout` of a run with seed `seed`.
    pub fn new(seed: u64, rollout: u64) -> Self {
        RolloutKey(absorb(mix64(seed ^ 0x5374_6570_7065_6421), rollout)) // "Stepped!"
    }

    /// The streams of step `step`.
    #[inline]
    pub fn step(&self, step: u64) -> StepKey {
        StepKey(absorb(self.0, step))
    }
}

/// The streams of one step of one rollout (see [`RolloutKey`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepKey(u64);

impl StepKey {
    /// The stream of slot `slot` (a unit and channel of the step's draws).
    #[inline]
    pub fn stream(&self, slot: u64) -> Stream {
        Stream {
            state: self.0.wrapping_add(slot.wrapping_mul(GOLDEN_GAMMA << 32)),
        }
    }
}

/// Stream for per-rollout draws outside the step loop (virtual patients, measurement
/// noise): a step number no simulation step uses.
pub const ROLLOUT_LEVEL_STEP: u64 = u64::MAX;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn golden_values_never_change() {
        // If this fails, every published result with a seed changes: do not update lightly.
        let key = Key {
            seed: 1,
            rollout: 2,
            step: 3,
            unit: 4,
            channel: 5,
        };
        let mut s = key.stream();
        let first = s.next_u64();
        // SplitMix64 reference: the output after state x is mix64(x + γ).
        assert_eq!(first, mix64(GOLDEN_DIGEST.wrapping_add(GOLDEN_GAMMA)));
        assert_eq!(key.digest(), GOLDEN_DIGEST);
        assert_eq!(first, GOLDEN_FIRST);
    }

    #[test]
    fn step_streams_are_stretches_of_one_sequence() {
        let step = RolloutKey::new(1, 2).step(3);
        // Slot s is the step's sequence from word s·2³² on: stepping slot 0's stream 2³²
        // times would reach slot 1's first word (checked through the state arithmetic).
        let slot1 = step.stream(1);
        let mut slot0 = step.stream(0);
        slot0.state = slot0.state.wrapping_add(GOLDEN_GAMMA.wrapping_mul(1 << 32));
        assert_eq!(slot0.next_u64(), slot1.clone().next_u64());
        // Different rollouts, steps and slots start unrelated streams.
        let a = step.stream(0).next_u64();
        for other in [
            RolloutKey::new(1, 3).step(3).stream(0),
            RolloutKey::new(2, 2).step(3).stream(0),
            RolloutKey::new(1, 2).step(4).stream(0),
            step.stream(2),
        ] {
            assert_ne!(other.clone().next_u64(), a);
        }
    }

    const GOLDEN_DIGEST: u64 = 9243489326520315428;
    const GOLDEN_FIRST: u64 = 10652162477295399056;

    #[test]
    fn nearby_keys_give_unrelated_streams() {
        let base = Key {
            seed: 7,
            rollout: 0,
            step: 0,
            unit: 0,
            channel: 0,
        };
        let a = base.stream().next_u64();
        for k in [
            Key { rollout: 1, ..base },
            Key { step: 1, ..base },
            Key { unit: 1, ..base },
            Key { channel: 1, ..base },
            Key { seed: 8, ..base },
        ] {
            assert_ne!(k.stream().next_u64(), a);
        }
        // Swapping fields must not collide either.
        let swapped = Key {
            step: 1,
            unit: 0,
            ..base
        };
        let other = Key {
            step: 0,
            unit: 1,
            ..base
        };
        assert_ne!(swapped.digest(), other.digest());
    }
}
