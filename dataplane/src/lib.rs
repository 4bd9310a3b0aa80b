//! `nfv-dataplane` moves packets. It knows nothing of YAML, switches or NAT.
//!
//! # Packet lifecycle
//! 1. A worker ([`worker::run`]) polls every [`port::Port`]: `rx_burst` reads frames into
//!    [`packet::PacketBuf`]s taken from a preallocated [`packet::PacketPool`] until the
//!    [`packet::Batch`] is full ([`packet::BURST`]) or the device says EAGAIN.
//! 2. The [`graph::Graph`] stamps `meta.rx_port` and hands the batch to whatever the port's
//!    rx is connected to: an [`element::Element`] input gate, or straight to another port.
//! 3. An element consumes the batch: every packet is either emitted on an output gate or
//!    dropped with a counted [`element::DropReason`]. The runner then passes each output
//!    gate's packets on, in batches, to the connected element or port.
//! 4. A port's `tx_burst` writes frames; any it cannot write are dropped and counted by reason.
//!
//! # Ownership rules
//! A `PacketBuf` is a move-only handle owned by exactly one stage; dropping it returns the
//! buffer to its pool. No heap allocation, lock or syscall happens per packet except the
//! port's own read/write; per-gate queues keep their capacity between batches.
//!
//! # Offload
//! A packet may carry [`packet::Offload`] state (a partial transport checksum, a GSO
//! super-frame) from a namespace host's offloading TAP. Elements that rewrite headers keep
//! it valid; ports that cannot pass it on finish the work in software ([`wire::gso`]).
//!
//! # Parsed headers
//! The first element that validates a packet's IPv4 header records it in the packet's
//! [`packet::Meta`] ([`packet::Parsed`], like VPP's `vnet_buffer` header offsets); the next
//! element in a chain ([`wire::ipv4::parse_pkt`]) skips the header checksum. Any change of
//! the frame's layout or length clears the record, and elements keep the header valid when
//! they rewrite it, so the record is only ever true or absent.
//!
//! # Accounting
//! Every node satisfies `in + generated == out + drops` and every port
//! `rx == delivered + rx drops`, `offered == tx + tx drops`
//! ([`graph::Graph::conservation_errors`]); rings are ports, and on exit every ring is
//! drained ([`pipeline::Pipeline::conservation_errors`]).
//!
//! # Threads
//! A [`pipeline::PipelineBuilder`] places every port and element on one of N workers and
//! builds one [`graph::Graph`] per worker; each runs on its own pinned thread
//! ([`worker::run`]). An edge inside a worker is a direct hand-off of a batch; an edge
//! between workers is a bounded lock-free SPSC ring of packet handles
//! ([`port::ring`]), seen by each graph as a port, so elements never know which kind of
//! edge they are on. A full ring is a counted drop (`ring_full`), never a block.
//!
//! **State model: one owner per function instance.** An element's state (FDB, NAT
//! sessions, firewall flows) is touched only by the thread of the worker it was placed on.
//! Both directions of every flow therefore meet the same state without any lock, atomic or
//! flow-hash steering: there is one copy of it. Workers scale by taking different ports and
//! functions (and different queues of one multiqueue TAP); one function instance is bounded
//! by one core. Buffers are `Send` and the pool's free list is lock-free MPMC so a packet can
//! be allocated on one worker and freed on another. See [`pipeline`] for placement and
//! [`port::ring`] for the wake-up protocol between a producer and a sleeping consumer.
//!
//! # Direction
//! **rx = into the data plane from a device, tx = out of the data plane to a device.**

pub mod capture;
pub mod element;
pub mod graph;
pub mod packet;
pub mod pipeline;
pub mod port;
pub mod reason;
pub mod sys;
#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
pub mod time;
pub mod trace;
pub mod wake;
pub mod wire;
pub mod worker;

pub use element::{
    Context, CounterInfo, CounterKind, DropCounters, DropReason, Element, GateSpec, InputGate,
    OutputGate, Outputs, Reason, ReasonInfo, TABLE_ROW_LIMIT, Table,
};
pub use graph::{Endpoint, Graph, GraphBuilder, GraphError, GraphReport};
pub use packet::{BURST, Batch, Meta, Offload, PacketBuf, PacketPool, Parsed};
pub use port::{LinkState, Port, PortError, PortStats};
pub use time::Instant;
