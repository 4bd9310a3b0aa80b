//! Thin wrappers over Linux system interfaces. With `packet/pool.rs` these are the only
//! places allowed `unsafe`; every block carries a `// SAFETY:` comment.

pub mod cpu;
pub mod fdio;
pub mod netlink;
pub mod netns;
pub mod packet_socket;
pub mod poll;
pub mod tap;
