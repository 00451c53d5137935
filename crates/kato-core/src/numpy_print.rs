//! NumPy's `str()` of a 1-D float64 array under the default print options, because the reference
//! names a vector by hashing that text.
//!
//! Defaults reproduced (NumPy 2.x `array2string`, `legacy=False`): `precision=8`,
//! `floatmode='maxprec'`, `suppress=False`, `sign='-'`, `linewidth=75`, `threshold=1000`,
//! `edgeitems=3`, `nanstr='nan'`, `infstr='inf'`. Covered:
//! - plain positional notation: every value printed with the fewest digits that round-trip, cut
//!   to at most 8 fractional digits by rounding the exact binary value half-to-even, trailing zeros
//!   dropped but the point kept (`1.`), padded to a common width (`[1.5  2.25]`);
//! - the switch to scientific notation for the whole array when, over the non-zero finite
//!   magnitudes, max >= 1e8, min < 1e-4 or max/min > 1e3: every mantissa gets as many fractional
//!   digits as the longest round-trip mantissa (at most 8), taken from the exact binary value
//!   (which matters for subnormals: `4.94065646e-324`), exponents signed and at least two digits
//!   wide (`[1.e+100 1.e+000]`);
//! - negative zero (`-0.`), `nan`, `inf` and `-inf` with NumPy's padding;
//! - line wrapping at 75 characters with a one-space hanging indent;
//! - summarisation of arrays longer than 1000 values to the first and last three around `...`,
//!   with widths computed from those six values only.
//!
//! The shortest round-trip digits come from Rust's float formatting, which, like NumPy's Dragon4
//! in `unique` mode, picks the shortest digit string that reads back to the same `f64`, and the
//! closest such string when several qualify.

const PRECISION: usize = 8;
const LINE_WIDTH: usize = 75;
const SUMMARY_THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const SUMMARY_MARK: &str = "...";
const HANGING_INDENT: &str = " ";

/// NumPy's `str(numpy.array(values))` for float64 values.
pub(crate) fn array_str(values: &[f64]) -> String {
    if values.is_empty() {
        return "[]".to_owned();
    }
    let summarised = values.len() > SUMMARY_THRESHOLD;
    let shown: Vec<f64> = if summarised {
        let tail = &values[values.len() - EDGE_ITEMS..];
        values[..EDGE_ITEMS].iter().chain(tail).copied().collect()
    } else {
        values.to_vec()
    };
    let format = FloatFormat::for_values(&shown);
    let words: Vec<String> = shown.iter().map(|&value| format.format(value)).collect();
    lay_out(&words, summarised)
}

/// `_formatArray` for one dimension: words separated by one space, wrapped so no line passes the
/// width (the closing bracket counts), continuation lines indented by one space.
fn lay_out(words: &[String], summarised: bool) -> String {
    let mut text = String::new();
    let mut line = String::from(HANGING_INDENT);
    let (last, rest) = words.split_last().expect("array_str handles empty arrays");
    for (index, word) in rest.iter().enumerate() {
        if summarised && index == EDGE_ITEMS {
            extend_line(&mut text, &mut line, SUMMARY_MARK);
            line.push(' ');
        }
        extend_line(&mut text, &mut line, word);
        line.push(' ');
    }
    extend_line(&mut text, &mut line, last);
    text.push_str(&line);
    // The opening bracket takes the place of the first line's hanging indent.
    format!("[{}]", &text[HANGING_INDENT.len()..])
}

/// NumPy's `_extendLine`: start a new line before `word` when it would pass the width minus the
/// closing bracket, unless the line holds nothing but the indent.
fn extend_line(text: &mut String, line: &mut String, word: &str) {
    let element_width = LINE_WIDTH - "]".len();
    if line.len() + word.len() > element_width && line.len() > HANGING_INDENT.len() {
        text.push_str(line.trim_end());
        text.push('\n');
        line.clear();
        line.push_str(HANGING_INDENT);
    }
    line.push_str(word);
}

/// One finite value cut into the pieces NumPy aligns.
struct Pieces {
    /// Sign and integer digits (`-12`); in scientific notation the single leading digit.
    integer: String,
    /// Fractional digits, trailing zeros removed.
    fraction: String,
    /// Decimal exponent (scientific notation only).
    exponent: i32,
}

impl Pieces {
    /// Shortest round-trip digits, cut to at most [`PRECISION`] fractional digits.
    fn positional(value: f64) -> Self {
        let mut text = format!("{value}");
        if fraction_len(&text) > PRECISION {
            text = format!("{value:.PRECISION$}");
        }
        Self::split(&text, 0)
    }

    /// Shortest round-trip mantissa, cut to at most [`PRECISION`] fractional digits.
    fn scientific(value: f64) -> Self {
        let mut text = format!("{value:e}");
        if fraction_len(mantissa(&text)) > PRECISION {
            text = format!("{value:.PRECISION$e}");
        }
        let (mantissa, exponent) = text.split_once('e').expect("`{:e}` output has an exponent");
        Self::split(
            mantissa,
            exponent.parse().expect("`{:e}` exponent is an integer"),
        )
    }

    fn split(number: &str, exponent: i32) -> Self {
        let (integer, fraction) = number.split_once('.').unwrap_or((number, ""));
        Self {
            integer: integer.to_owned(),
            fraction: fraction.trim_end_matches('0').to_owned(),
            exponent,
        }
    }
}

fn mantissa(scientific: &str) -> &str {
    scientific.split('e').next().unwrap_or(scientific)
}

fn fraction_len(number: &str) -> usize {
    number
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.len())
}

enum Notation {
    Positional,
    /// All mantissas get `digits` fractional digits and exponents `exponent_digits` digits.
    Scientific {
        digits: usize,
        exponent_digits: usize,
    },
}

/// NumPy's `FloatingFormat` after `fillFormat`: one layout shared by every value of the array.
struct FloatFormat {
    notation: Notation,
    pad_left: usize,
    pad_right: usize,
}

impl FloatFormat {
    fn for_values(values: &[f64]) -> Self {
        let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        let magnitudes = finite.iter().filter(|&&v| v != 0.0).map(|v| v.abs());
        let (min, max) = magnitudes.fold((f64::INFINITY, 0.0_f64), |(min, max), magnitude| {
            (min.min(magnitude), max.max(magnitude))
        });
        let scientific = max > 0.0 && (max >= 1e8 || min < 1e-4 || max / min > 1e3);

        let mut format = if finite.is_empty() {
            Self {
                notation: Notation::Positional,
                pad_left: 0,
                pad_right: 0,
            }
        } else if scientific {
            let pieces: Vec<Pieces> = finite.iter().map(|&v| Pieces::scientific(v)).collect();
            let digits = pieces.iter().map(|p| p.fraction.len()).max().unwrap_or(0);
            let exponent_digits = pieces
                .iter()
                .map(|p| p.exponent.unsigned_abs().to_string().len().max(2))
                .max()
                .unwrap_or(2);
            Self {
                notation: Notation::Scientific {
                    digits,
                    exponent_digits,
                },
                pad_left: pieces.iter().map(|p| p.integer.len()).max().unwrap_or(0),
                // Only used to size non-finite values: digits, point, `e`, sign, exponent.
                pad_right: exponent_digits + 2 + digits,
            }
        } else {
            let pieces: Vec<Pieces> = finite.iter().map(|&v| Pieces::positional(v)).collect();
            Self {
                notation: Notation::Positional,
                pad_left: pieces.iter().map(|p| p.integer.len()).max().unwrap_or(0),
                pad_right: pieces.iter().map(|p| p.fraction.len()).max().unwrap_or(0),
            }
        };

        if finite.len() != values.len() {
            let negative_infinity = values.contains(&f64::NEG_INFINITY);
            let widest = "inf".len() + usize::from(negative_infinity);
            let offset = format.pad_right + 1;
            format.pad_left = format
                .pad_left
                .max("nan".len().saturating_sub(offset))
                .max(widest.saturating_sub(offset));
        }
        format
    }

    fn format(&self, value: f64) -> String {
        if !value.is_finite() {
            let text = if value.is_nan() {
                "nan"
            } else if value < 0.0 {
                "-inf"
            } else {
                "inf"
            };
            let width = self.pad_left + self.pad_right + 1;
            return format!("{text:>width$}");
        }
        let pad_left = self.pad_left;
        match self.notation {
            Notation::Positional => {
                let pieces = Pieces::positional(value);
                let pad_right = self.pad_right;
                format!(
                    "{:>pad_left$}.{:<pad_right$}",
                    pieces.integer, pieces.fraction
                )
            }
            Notation::Scientific {
                digits,
                exponent_digits,
            } => {
                // NumPy prints `digits` digits of the exact value here (`min_digits`), not the
                // round-trip digits padded with zeros; they differ for subnormals.
                let text = format!("{value:.digits$e}");
                let (mantissa, exponent) = text.split_once('e').expect("`{:e}` has an exponent");
                let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
                let exponent: i32 = exponent.parse().expect("`{:e}` exponent is an integer");
                let sign = if exponent < 0 { '-' } else { '+' };
                format!(
                    "{integer:>pad_left$}.{fraction}e{sign}{:0>exponent_digits$}",
                    exponent.unsigned_abs()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::array_str;

    // Expected texts were printed by NumPy 2.4 (`str(numpy.array(values))`).
    #[test]
    fn positional() {
        assert_eq!(array_str(&[1.0, 0.0, 0.0, 0.0]), "[1. 0. 0. 0.]");
        assert_eq!(array_str(&[0.1, 0.2, 0.3]), "[0.1 0.2 0.3]");
        assert_eq!(array_str(&[1.5, 2.25]), "[1.5  2.25]");
        assert_eq!(array_str(&[-0.0, 1.0]), "[-0.  1.]");
        assert_eq!(array_str(&[0.0, 0.0]), "[0. 0.]");
    }

    #[test]
    fn rounding_to_eight_digits_is_half_even_on_the_exact_value() {
        assert_eq!(array_str(&[0.001953125]), "[0.00195312]");
        assert_eq!(array_str(&[0.1 + 0.2]), "[0.3]");
        assert_eq!(
            array_str(&[1.0 / 3.0, 2.0 / 3.0]),
            "[0.33333333 0.66666667]"
        );
    }

    #[test]
    fn scientific() {
        assert_eq!(
            array_str(&[99999999.0, 1.0]),
            "[9.9999999e+07 1.0000000e+00]"
        );
        assert_eq!(array_str(&[0.5, 1e-5]), "[5.e-01 1.e-05]");
        assert_eq!(
            array_str(&[1e100, 1.0, -2e-300]),
            "[ 1.e+100  1.e+000 -2.e-300]"
        );
    }

    #[test]
    fn non_finite() {
        assert_eq!(
            array_str(&[f64::NAN, 1.5, f64::NEG_INFINITY]),
            "[ nan  1.5 -inf]"
        );
        assert_eq!(
            array_str(&[f64::NAN, 1e10, f64::NEG_INFINITY]),
            "[   nan 1.e+10   -inf]"
        );
        assert_eq!(array_str(&[f64::NAN]), "[nan]");
    }

    #[test]
    fn empty() {
        assert_eq!(array_str(&[]), "[]");
    }

    #[test]
    fn wraps_at_75_characters() {
        let values: Vec<f64> = (0..30).map(|i| f64::from(i) / 7.0).collect();
        let expected = "[0.         0.14285714 0.28571429 0.42857143 0.57142857 0.71428571\n \
            0.85714286 1.         1.14285714 1.28571429 1.42857143 1.57142857\n \
            1.71428571 1.85714286 2.         2.14285714 2.28571429 2.42857143\n \
            2.57142857 2.71428571 2.85714286 3.         3.14285714 3.28571429\n \
            3.42857143 3.57142857 3.71428571 3.85714286 4.         4.14285714]";
        assert_eq!(array_str(&values), expected);
    }

    /// The texts of `tests/it/data/numpy_array_str.jsonl`, printed by NumPy 2.4.
    #[test]
    fn matches_numpy_corpus() {
        let corpus = include_str!("../tests/it/data/numpy_array_str.jsonl");
        for line in corpus.lines() {
            let case: serde_json::Value = serde_json::from_str(line).unwrap();
            let values: Vec<f64> = case["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|value| value.as_str().unwrap().parse().unwrap())
                .collect();
            assert_eq!(
                array_str(&values),
                case["text"].as_str().unwrap(),
                "{values:?}"
            );
        }
    }

    #[test]
    fn summarises_beyond_1000_values() {
        let values: Vec<f64> = (0..1200).map(|i| f64::from(i) / 3.0).collect();
        let expected = "[0.00000000e+00 3.33333333e-01 6.66666667e-01 ... 3.99000000e+02\n \
            3.99333333e+02 3.99666667e+02]";
        assert_eq!(array_str(&values), expected);
    }
}
