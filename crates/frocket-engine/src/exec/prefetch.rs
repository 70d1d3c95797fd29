//! A hint to the cache that a place in a table looked up at random will be read soon.

/// Rows ahead of the one at hand whose lookup a pass over rows asks the cache for (held
/// chains' blocks, the strict witness's records, the times of the rows a sparse order
/// gathers): far enough for the line to arrive, near enough to stay in cache.
pub(crate) const AHEAD: usize = 16;

/// Asks the cache for the line holding `at`, ahead of a lookup whose place is known early
/// (a row's group, some rows before the row). A hint only: it never faults and reads
/// nothing into the program, whatever the address (past a table's end included). Nothing
/// on machines other than x86-64.
///
/// ```ignore
/// let table = vec![0u32; 1 << 20];
/// prefetch(table.as_ptr().wrapping_add(12_345));
/// ```
#[inline(always)]
pub(crate) fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint to the cache: it never faults and reads nothing into the
    // program, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
