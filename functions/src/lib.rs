//! `nfv-functions`: network functions as pure packet logic.
//!
//! Each function is an [`nfv_dataplane::Element`]: it gets batches and a
//! [`nfv_dataplane::Context`] (time, packet allocation) and never makes a syscall or reads
//! the clock, so every behaviour is testable with frames in, frames and counters out, and
//! time advanced by value. Functions take their own plain configuration types (not YAML
//! types): the `nfv` binary maps the validated topology onto them.
//!
//! | kind | type |
//! |---|---|
//! | `switch` | [`l2_switch::L2Switch`] |
//! | `router` | [`router::Ipv4Router`] |
//! | `nat` | [`nat::Nat44`] |
//! | `firewall` | [`firewall::Firewall`] |

pub mod firewall;
pub mod impair;
pub mod l2_switch;
pub mod nat;
pub mod rate_limit;
pub mod router;
mod show;

pub use firewall::{
    Action, ConnState, Direction, Firewall, FirewallConfig, FlowState, FlowView, FwTimeouts, Rule,
};
pub use impair::{GilbertElliott, Impair, ImpairConfig, ImpairSpec, LossModel, Ppm};
pub use l2_switch::{L2Switch, SwitchConfig, SwitchPortConfig, VlanMode};
pub use nat::{
    Filtering, Nat44, NatConfig, NatError, NatProto, NatTimeouts, PortForward, SessionState,
    SessionView,
};
pub use router::{Ipv4Router, RouterConfig, RouterInterfaceConfig, StaticRoute};
