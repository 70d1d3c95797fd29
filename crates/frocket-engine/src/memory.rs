//! Process memory settings for programs that run the engine.

/// Makes the C allocator keep freed memory for reuse instead of returning it to the kernel.
///
/// Reading a part allocates and frees buffers of a row group's size again and again. glibc's
/// `malloc` serves such sizes with `mmap` and unmaps them on `free`, so every row group's
/// buffers are page-faulted (and zeroed by the kernel) anew: measured at up to half the read
/// time of a query over strings (docs/performance.md). Call once at the start of a process
/// that reads parts (the CLI, workers, benchmarks). A no-op where the C library is not glibc.
///
/// ```
/// frocket_engine::memory::keep_freed_memory();
/// ```
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables; called with valid parameters. It may
    // run at any time (glibc serializes it with allocations).
    unsafe {
        // Served from the heap up to 32 MiB (glibc's maximum), and the heap is trimmed only
        // when 512 MiB are free at its top.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 * 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 * 1024 * 1024);
    }
}
