//! How an operation's client index names a client: modulo the clients that
//! qualify, so that every index the fuzzer or the seeded generator draws
//! means one of them.

/// The index in `items` of the `index`-th (modulo their number) item that
/// `keep` accepts, or `None` if it accepts none.
pub(crate) fn nth_where<T>(items: &[T], index: u8, keep: impl Fn(&T) -> bool) -> Option<usize> {
    let count = items.iter().filter(|item| keep(item)).count();
    if count == 0 {
        return None;
    }
    let wanted = usize::from(index) % count;
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| keep(item))
        .nth(wanted)
        .map(|(i, _)| i)
}
