//! What every layer leans on: limits on requests ([`limits`]), how numbers are written
//! ([`mod@format`]), random number streams ([`rng`]), special functions ([`special`]), small
//! linear algebra ([`linalg`]), space-filling designs ([`design`]) and stopping a job
//! ([`stop`]).

pub mod design;
pub mod format;
pub mod limits;
pub mod linalg;
pub mod rng;
pub mod special;
pub mod stop;
