//! Zeroed tables whose pages the kernel gives on a write, not a read.
//!
//! A large zeroed allocation starts as memory the kernel has not given pages yet. A page read
//! before it is written is mapped to the kernel's shared zero page, and its first write then
//! takes a second fault that replaces it — with the process's other threads running, a TLB
//! shootdown interrupting every other core (measured at 8% of a 2-thread run of the
//! conditions query, from the table that numbers group ids). Tables updated at random
//! (`table[g] += …`, read first) are made here instead: every page written once, up front.

/// Bytes of a page (the smallest on the platforms the engine runs on).
const PAGE: usize = 4096;

/// `n` zeroes (`T::default()` must be all zero bits: integers, floats, `bool`), every page
/// of them written once (see [`write_pages`]).
///
/// ```ignore
/// let counts: Vec<u32> = zeroed(groups);
/// for &g in of_row { counts[g as usize] += 1; } // no page first mapped read-only
/// ```
pub(crate) fn zeroed<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = vec![T::default(); n];
    write_pages(&mut v);
    v
}

/// Writes `T::default()` (zero) into every page of `slots`, which hold zeroes: each page is
/// then given by the kernel on a write, once; memory already given is only written over.
#[inline(never)]
pub(crate) fn write_pages<T: Copy + Default>(slots: &mut [T]) {
    // (Through `black_box`: the compiler may not drop these stores as writing what a zeroed
    // allocation already holds — they are for the kernel, not the values.)
    let slots = std::hint::black_box(slots);
    let stride = (PAGE / std::mem::size_of::<T>().max(1)).max(1);
    for i in (0..slots.len()).step_by(stride) {
        slots[i] = T::default();
    }
    if let Some(last) = slots.last_mut() {
        *last = T::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_tables_hold_zeroes_of_any_width() {
        assert!(zeroed::<u8>(10_000).iter().all(|&x| x == 0));
        assert!(zeroed::<u32>(5_000).iter().all(|&x| x == 0));
        assert!(zeroed::<f64>(3).iter().all(|&x| x == 0.0));
        assert!(zeroed::<u64>(0).is_empty());
        // Written over in place: what was there stays (zeroes, as the caller promises).
        let mut v = vec![0u16; 9000];
        write_pages(&mut v);
        assert_eq!(v, vec![0u16; 9000]);
    }
}
