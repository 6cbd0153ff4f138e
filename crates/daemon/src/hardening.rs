//! Process hardening applied at start: no core dumps and no ptrace/`/proc/<pid>/mem` access by
//! other processes of the same user, so keys in memory do not end up on disk or in a debugger.

/// Makes the process non-dumpable and sets RLIMIT_CORE to 0.
pub fn apply() -> std::io::Result<()> {
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads a valid, initialized struct; prctl with PR_SET_DUMPABLE takes
    // plain integers.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_CORE, &zero) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
