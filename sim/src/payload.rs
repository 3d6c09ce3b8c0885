//! Payloads that say who sent them, and prove they arrived whole.
//!
//! A tracked payload is `0xFF`, then the sender's ID, its sequence number and
//! the payload length, each as five base-254 digits, then filler derived from
//! those three. Every byte but the first lies in `1..=254`, so a payload never
//! holds the terminator, and `0xFF` marks only the start of a tracked payload:
//! a delivered payload that begins with `0xFF` but is not exactly one encoded
//! payload proves that frames were cut or interleaved.

/// The first byte of every tracked payload, and of no other byte sequence the
/// simulation sends.
pub const MARKER: u8 = 0xFF;

const DIGITS: usize = 5;
const BASE: u64 = 254;

/// Smallest tracked payload: the marker and three numbers.
pub const MIN_LEN: usize = 1 + 3 * DIGITS;

/// What a tracked payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// The sender's ID.
    pub sender: u32,
    /// The sender's sequence number for this frame, counting all its frames.
    pub seq: u32,
    /// The payload's length, terminator excluded.
    pub len: u32,
}

/// Encodes `stamp` into a payload of `stamp.len` bytes (at least [`MIN_LEN`]).
pub fn encode(stamp: Stamp) -> Vec<u8> {
    let len = stamp.len as usize;
    assert!(len >= MIN_LEN, "a tracked payload needs {MIN_LEN} bytes");
    let mut payload = Vec::with_capacity(len);
    payload.push(MARKER);
    for value in [stamp.sender, stamp.seq, stamp.len] {
        push_digits(&mut payload, value);
    }
    let mut state = seed(stamp);
    while payload.len() < len {
        payload.push(filler(&mut state));
    }
    payload
}

/// Decodes a delivered payload (terminator excluded), or says why it is not
/// exactly one tracked payload.
pub fn decode(payload: &[u8]) -> Result<Stamp, String> {
    if payload.first() != Some(&MARKER) || payload.len() < MIN_LEN {
        return Err(format!("not a tracked payload: {:?}", preview(payload)));
    }
    let mut numbers = payload[1..MIN_LEN].chunks(DIGITS).map(read_digits);
    let stamp = Stamp {
        sender: numbers.next().flatten().ok_or("bad sender digits")?,
        seq: numbers.next().flatten().ok_or("bad seq digits")?,
        len: numbers.next().flatten().ok_or("bad len digits")?,
    };
    if stamp.len as usize != payload.len() {
        return Err(format!(
            "payload of {} bytes claims {}: cut or interleaved ({stamp:?})",
            payload.len(),
            stamp.len
        ));
    }
    if encode(stamp) != payload {
        return Err(format!("filler corrupted ({stamp:?})"));
    }
    Ok(stamp)
}

fn push_digits(out: &mut Vec<u8>, value: u32) {
    let mut rest = u64::from(value);
    for _ in 0..DIGITS {
        out.push((rest % BASE) as u8 + 1);
        rest /= BASE;
    }
}

fn read_digits(digits: &[u8]) -> Option<u32> {
    let mut value = 0u64;
    for &digit in digits.iter().rev() {
        if !(1..=254).contains(&digit) {
            return None;
        }
        value = value * BASE + u64::from(digit - 1);
    }
    u32::try_from(value).ok()
}

fn seed(stamp: Stamp) -> u64 {
    (u64::from(stamp.sender) << 32 | u64::from(stamp.seq)) ^ 0x9E37_79B9_7F4A_7C15
}

/// A byte in `1..=254` from a xorshift stream.
fn filler(state: &mut u64) -> u8 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % 254) as u8 + 1
}

fn preview(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(24)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_never_holds_a_terminator() {
        let stamp = Stamp {
            sender: u32::MAX,
            seq: 7,
            len: 40,
        };
        let payload = encode(stamp);
        assert_eq!(payload.len(), 40);
        assert!(!payload.contains(&0));
        assert_eq!(payload.iter().filter(|&&b| b == MARKER).count(), 1);
        assert_eq!(decode(&payload), Ok(stamp));
    }

    #[test]
    fn detects_cuts_and_corruption() {
        let stamp = Stamp {
            sender: 3,
            seq: 1,
            len: 30,
        };
        let payload = encode(stamp);
        assert!(decode(&payload[..29]).is_err());
        let mut corrupted = payload.clone();
        corrupted[25] = corrupted[25] % 254 + 1;
        assert!(decode(&corrupted).is_err());
        let mut joined = payload.clone();
        joined.extend_from_slice(&encode(Stamp { seq: 2, ..stamp }));
        assert!(decode(&joined).is_err());
    }
}
