//! Python's `repr` of a `str` and of a list of lists of `str`, byte for byte, because the
//! reference names patterns by hashing that text.
//!
//! Rules (CPython `unicode_repr`): the text is quoted with `'`, or with `"` when it contains `'`
//! but no `"`; the backslash and the chosen quote are escaped with a backslash; tab, newline and
//! carriage return become `\t`, `\n`, `\r`; every other code point below 0x20 and 0x7F become
//! `\xNN`; a non-ASCII code point is kept raw when Python considers it printable and otherwise
//! becomes `\xNN` (up to 0xFF), `\uNNNN` (up to 0xFFFF) or `\UNNNNNNNN`, in lowercase hex. The
//! printable test uses the table in [`non_printable`], generated from CPython 3.12 (Unicode 15.0).

mod non_printable;

use std::fmt::Write as _;

use non_printable::NON_PRINTABLE_RANGES;

/// Whether CPython prints `ch` raw inside a string's `repr` (`Py_UNICODE_ISPRINTABLE`).
fn is_python_printable(ch: char) -> bool {
    let code = u32::from(ch);
    if (0x20..0x7F).contains(&code) {
        return true;
    }
    // The ranges are sorted and disjoint: find the last range starting at or before `code`.
    let after = NON_PRINTABLE_RANGES.partition_point(|&(start, _)| start <= code);
    match after.checked_sub(1) {
        Some(index) => code > NON_PRINTABLE_RANGES[index].1,
        None => true,
    }
}

/// Appends Python's `repr(text)` to `out`.
pub(crate) fn write_str_repr(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if ch == quote => {
                out.push('\\');
                out.push(ch);
            }
            _ if is_python_printable(ch) => out.push(ch),
            // Writing to a String cannot fail.
            _ => {
                let code = u32::from(ch);
                let _ = if code <= 0xFF {
                    write!(out, "\\x{code:02x}")
                } else if code <= 0xFFFF {
                    write!(out, "\\u{code:04x}")
                } else {
                    write!(out, "\\U{code:08x}")
                };
            }
        }
    }
    out.push(quote);
}

/// Appends Python's `repr` of a list of lists of strings (`[['a', 'b'], ['c']]`) to `out`.
pub(crate) fn write_nested_list_repr<'a, Outer, Inner>(lists: Outer, out: &mut String)
where
    Outer: IntoIterator<Item = Inner>,
    Inner: IntoIterator<Item = &'a str>,
{
    out.push('[');
    for (list_index, list) in lists.into_iter().enumerate() {
        if list_index > 0 {
            out.push_str(", ");
        }
        out.push('[');
        for (item_index, item) in list.into_iter().enumerate() {
            if item_index > 0 {
                out.push_str(", ");
            }
            write_str_repr(item, out);
        }
        out.push(']');
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repr(text: &str) -> String {
        let mut out = String::new();
        write_str_repr(text, &mut out);
        out
    }

    #[test]
    fn table_is_sorted_and_disjoint() {
        for pair in NON_PRINTABLE_RANGES.windows(2) {
            assert!(
                pair[0].0 <= pair[0].1 && pair[0].1 + 1 < pair[1].0,
                "{pair:?}"
            );
        }
    }

    // Expected texts below are what CPython 3.12 prints for `repr(text)`.
    #[test]
    fn quoting() {
        assert_eq!(repr("abc"), "'abc'");
        assert_eq!(repr(""), "''");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("say \"hi\""), "'say \"hi\"'");
        assert_eq!(repr("it's \"x\""), "'it\\'s \"x\"'");
    }

    #[test]
    fn backslash_and_whitespace_escapes() {
        assert_eq!(repr("a\\b"), "'a\\\\b'");
        assert_eq!(repr("a\tb\nc\rd"), "'a\\tb\\nc\\rd'");
        assert_eq!(repr(" "), "' '");
    }

    #[test]
    fn control_characters() {
        assert_eq!(repr("\u{0}\u{1}\u{1b}\u{1f}"), "'\\x00\\x01\\x1b\\x1f'");
        assert_eq!(repr("\u{7f}"), "'\\x7f'");
        assert_eq!(repr("\u{80}\u{9f}"), "'\\x80\\x9f'");
        assert_eq!(repr("\u{a0}"), "'\\xa0'");
        assert_eq!(repr("\u{ad}"), "'\\xad'");
    }

    #[test]
    fn non_ascii() {
        assert_eq!(repr("café"), "'café'");
        assert_eq!(repr("日本"), "'日本'");
        assert_eq!(repr("😀"), "'😀'");
        assert_eq!(repr("\u{200b}"), "'\\u200b'");
        assert_eq!(repr("\u{2028}"), "'\\u2028'");
        assert_eq!(repr("\u{3000}"), "'\\u3000'");
        assert_eq!(repr("\u{feff}"), "'\\ufeff'");
        assert_eq!(repr("\u{e000}"), "'\\ue000'");
        assert_eq!(repr("\u{e0001}"), "'\\U000e0001'");
        assert_eq!(repr("\u{10ffff}"), "'\\U0010ffff'");
    }

    #[test]
    fn nested_lists() {
        let mut out = String::new();
        write_nested_list_repr([vec!["a", "b"], vec![], vec!["it's"]], &mut out);
        assert_eq!(out, "[['a', 'b'], [], [\"it's\"]]");
        out.clear();
        write_nested_list_repr(Vec::<Vec<&str>>::new(), &mut out);
        assert_eq!(out, "[]");
    }
}
