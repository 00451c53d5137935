//! Aligning a pattern with the state: `extract_prediction_info` in exact mode (spec 3.3) and the
//! event expansion of `Prediction.__init__` (spec 3.5 steps 5 and 6).

use super::sequence_matcher::{SequenceMatcher, Tag};

/// What exact difflib alignment makes of a flat pattern `P` and a flat state `S`.
#[derive(Debug)]
pub(super) struct Extraction<'s> {
    /// `P[..past_len]` is the flat past.
    pub(super) past_len: usize,
    /// `P[past_len..past_len + present_len]` is the flat present.
    pub(super) present_len: usize,
    /// Matching blocks between `P` and `S`, the sentinel not counted.
    pub(super) blocks: usize,
    /// The state tokens of the blocks, in block order.
    pub(super) matches: Vec<&'s str>,
    /// Present tokens in `delete` and `replace` ranges of `SequenceMatcher(present, S)`.
    pub(super) flat_missing: Vec<&'s str>,
    /// State tokens in `insert` and `replace` ranges of `SequenceMatcher(present, S)`.
    pub(super) flat_extras: Vec<&'s str>,
}

/// Exact-mode `extract_prediction_info(P, S, cutoff)`: `None` when no block matches and `cutoff`
/// is above 0; with no block and a cutoff of 0 the whole pattern is the present.
pub(super) fn extract<'s>(
    p: &'s [&'s str],
    s: &'s [&'s str],
    cutoff: f64,
) -> Option<Extraction<'s>> {
    let mut matcher = SequenceMatcher::new(p, s);
    let blocks = matcher.get_matching_blocks();
    // The last block is the sentinel.
    let real = &blocks[..blocks.len() - 1];
    let matches: Vec<&'s str> = real
        .iter()
        .flat_map(|block| &s[block.b..block.b + block.size])
        .copied()
        .collect();
    let (past_len, present_end) = match (real.first(), real.last()) {
        (Some(first), Some(last)) => (first.a, last.a + last.size),
        _ if cutoff > 0.0 => return None,
        _ => (0, p.len()),
    };
    let present = &p[past_len..present_end];
    matcher.set_seq1(present);
    let mut flat_missing = Vec::new();
    let mut flat_extras = Vec::new();
    for opcode in matcher.get_opcodes() {
        if matches!(opcode.tag, Tag::Delete | Tag::Replace) {
            flat_missing.extend_from_slice(&present[opcode.i1..opcode.i2]);
        }
        if matches!(opcode.tag, Tag::Insert | Tag::Replace) {
            flat_extras.extend_from_slice(&s[opcode.j1..opcode.j2]);
        }
    }
    Some(Extraction {
        past_len,
        present_len: present.len(),
        blocks: real.len(),
        matches,
        flat_missing,
        flat_extras,
    })
}

/// Splits `events` into past, present and future (`events[..past_end]`,
/// `events[past_end..present_end]`, `events[present_end..]`) from the flat lengths, then applies
/// the tail fix.
///
/// Events are walked until their sizes add up to at least `past_len`, then to at least
/// `past_len + present_len`; so an event holding both past and present symbols first lands in the
/// past. The tail fix then moves the last past event to the present when it contains the first
/// match (plain membership, as the reference tests it).
pub(super) fn split_events(
    events: &[Vec<String>],
    past_len: usize,
    present_len: usize,
    first_match: Option<&str>,
) -> (usize, usize) {
    split_event_sizes(
        events.iter().map(Vec::len),
        past_len,
        present_len,
        |index, _| first_match.is_some_and(|first| events[index].iter().any(|s| s == first)),
    )
}

/// [`split_events`] over the events' sizes: `holds_first_match(index, start)` says whether event
/// `index`, whose symbols start at flat position `start`, contains the first match (always
/// false when there is none).
pub(super) fn split_event_sizes(
    sizes: impl IntoIterator<Item = usize>,
    past_len: usize,
    present_len: usize,
    holds_first_match: impl FnOnce(usize, usize) -> bool,
) -> (usize, usize) {
    let mut sizes = sizes.into_iter();
    let mut total = 0;
    let mut index: usize = 0;
    // Where the last event walked starts.
    let mut last_start = 0;
    while total < past_len {
        let Some(size) = sizes.next() else { break };
        last_start = total;
        total += size;
        index += 1;
    }
    let mut past_end = index;
    let last_past_start = last_start;
    while total < past_len + present_len {
        let Some(size) = sizes.next() else { break };
        total += size;
        index += 1;
    }
    let present_end = index;
    if let Some(last_past) = past_end.checked_sub(1)
        && holds_first_match(last_past, last_past_start)
    {
        past_end = last_past;
    }
    (past_end, present_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|event| event.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    }

    /// An event holding past and present symbols lands in the past, then the tail fix moves it.
    #[test]
    fn straddling_event_is_moved_by_the_tail_fix() {
        let pattern = events(&[&["a", "b"], &["c"], &["d"]]);
        // Flat past `[a]`, present `[b, c]`.
        assert_eq!(split_events(&pattern, 1, 2, Some("b")), (0, 2));
        // Without a first match in it, the event stays in the past.
        assert_eq!(split_events(&pattern, 1, 2, Some("c")), (1, 2));
        assert_eq!(split_events(&pattern, 1, 2, None), (1, 2));
    }

    /// Spec 3.5 step 6: `[[x],[x],[y]]` against `[x,y]` moves `[x]` to the present by membership.
    #[test]
    fn tail_fix_by_plain_membership() {
        let pattern = events(&[&["x"], &["x"], &["y"]]);
        let p = ["x", "x", "y"];
        let extraction = extract(&p, &["x", "y"], 0.1).expect("a block matches");
        assert_eq!((extraction.past_len, extraction.present_len), (1, 2));
        assert_eq!(extraction.matches, ["x", "y"]);
        let first = extraction.matches.first().copied();
        assert_eq!(split_events(&pattern, 1, 2, first), (0, 3));
    }

    #[test]
    fn no_block() {
        let p = ["a", "b"];
        assert!(extract(&p, &["c"], 0.1).is_none());
        let extraction = extract(&p, &["c"], 0.0).expect("cutoff 0 keeps it");
        assert_eq!((extraction.past_len, extraction.present_len), (0, 2));
        assert_eq!(extraction.blocks, 0);
        assert!(extraction.matches.is_empty());
        assert_eq!(extraction.flat_missing, ["a", "b"]);
        assert_eq!(extraction.flat_extras, ["c"]);
    }

    /// Spec 8 example 11: the flat extras keep the unmatched duplicate.
    #[test]
    fn flat_extras_count_duplicates() {
        let p = ["a", "b", "c"];
        let extraction = extract(&p, &["a", "a", "b"], 0.1).expect("a block matches");
        assert_eq!(extraction.matches, ["a", "b"]);
        assert_eq!((extraction.past_len, extraction.present_len), (0, 2));
        assert_eq!(extraction.flat_extras, ["a"]);
        assert!(extraction.flat_missing.is_empty());
    }

    /// Walking stops at the pattern's end even when the flat lengths ask for more.
    #[test]
    fn walk_stops_at_the_end() {
        let pattern = events(&[&["a"], &["b"]]);
        assert_eq!(split_events(&pattern, 0, 5, None), (0, 2));
        assert_eq!(split_events(&[], 0, 0, None), (0, 0));
    }
}
