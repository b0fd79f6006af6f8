//! What a trial protocol prescribes: the dosing rules ([`schedule`]), the visits and what
//! counts as progression ([`observe`]), and doses as NONMEM-style records ([`events`]).

pub mod containment;
pub mod dataset;
pub mod events;
pub mod forecast;
pub mod mpc;
pub mod observe;
pub mod particles;
pub mod schedule;
