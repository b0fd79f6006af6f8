//! From runs to numbers: what many runs of an arm amount to ([`summary`]), survival analysis
//! ([`survival`]), and arms contrasted with a reference arm ([`contrast`]).

pub mod contrast;
pub mod summary;
pub mod survival;
