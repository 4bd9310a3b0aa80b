//! Packet memory: [`PacketPool`] slabs, move-only [`PacketBuf`] handles and [`Batch`]es.
//!
//! Ownership rule: a `PacketBuf` is owned by exactly one stage at a time. Moving it hands it
//! on; dropping it returns its slot to the pool. The compiler therefore stops a packet from
//! being used twice, and a packet can only vanish by being dropped — which the graph runner
//! accounts for (see [`crate::element`]).

mod batch;
mod pool;

pub use batch::{BURST, Batch};
pub use pool::{
    DEFAULT_HEADROOM, Meta, NoHeadroom, OFFLOAD_META_LEN, Offload, PacketBuf, PacketPool, Parsed,
};
