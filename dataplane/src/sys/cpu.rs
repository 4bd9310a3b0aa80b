//! CPU affinity for worker threads (`sched_getaffinity` / `sched_setaffinity`).

use std::io;

/// The CPUs this process may run on, in increasing order (honours `taskset` and cgroup
/// cpusets, unlike a plain CPU count).
///
/// # Errors
/// The OS error of `sched_getaffinity`.
pub fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: passes a live cpu_set_t and its exact size; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let max = 8 * size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads the set at an index below CPU_SETSIZE.
    Ok((0..max)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Pin the calling thread to `cpu`.
///
/// # Errors
/// The OS error of `sched_setaffinity` (e.g. a CPU outside the process's cpuset).
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes the set at `cpu`, which libc bounds-checks against CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: passes a live cpu_set_t and its exact size; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set the calling thread's timer slack (how late the kernel may fire its timers, 50 µs by
/// default) to `ns`: a worker that wakes early for a predicted packet
/// ([`crate::wake`]) needs its timer on time.
///
/// # Errors
/// The OS error of `prctl(PR_SET_TIMERSLACK)`.
pub fn set_timer_slack(ns: u64) -> io::Result<()> {
    // SAFETY: PR_SET_TIMERSLACK takes one unsigned long argument and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The CPU for worker `i` of `workers`, given the allowed CPUs: when there are more CPUs than
/// workers, the first CPU is left to the control plane (metrics, signals, the kernel work
/// of the namespaces' own processes) and workers take the next ones; otherwise workers
/// share CPUs round-robin.
pub fn cpu_for_worker(i: usize, workers: usize, allowed: &[usize]) -> Option<usize> {
    if allowed.is_empty() {
        return None;
    }
    let skip = usize::from(allowed.len() > workers);
    Some(allowed[(i + skip) % allowed.len()])
}

/// Default number of workers: one per allowed CPU minus one for the control plane, at least
/// one.
pub fn default_workers(allowed: &[usize]) -> usize {
    allowed.len().saturating_sub(1).max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn workers_leave_the_first_cpu_to_the_control_plane_when_they_can() {
        assert_eq!(default_workers(&[0, 1]), 1);
        assert_eq!(default_workers(&[0]), 1);
        assert_eq!(default_workers(&[0, 1, 2, 3]), 3);
        assert_eq!(cpu_for_worker(0, 1, &[0, 1]), Some(1));
        assert_eq!(cpu_for_worker(0, 3, &[0, 1, 2, 3]), Some(1));
        assert_eq!(cpu_for_worker(2, 3, &[0, 1, 2, 3]), Some(3));
        // More workers than CPUs: round-robin over all of them.
        assert_eq!(cpu_for_worker(0, 2, &[0, 1]), Some(0));
        assert_eq!(cpu_for_worker(1, 2, &[0, 1]), Some(1));
        assert_eq!(cpu_for_worker(2, 3, &[4, 5]), Some(4));
        assert_eq!(cpu_for_worker(0, 1, &[]), None);
    }

    #[test]
    fn this_thread_can_be_pinned_to_an_allowed_cpu() {
        let cpus = allowed_cpus().unwrap();
        assert!(!cpus.is_empty());
        let me = cpus[cpus.len() - 1];
        std::thread::spawn(move || {
            pin_current_thread(me).unwrap();
            assert_eq!(allowed_cpus().unwrap(), vec![me]);
        })
        .join()
        .unwrap();
    }
}
