//! Golden values: the reference's worked examples (spec sections 2.4 and 3.1), a corpus of NumPy
//! outputs, and the pinned values of MinHash scheme version 1.

use kato_core::{
    Event, MINHASH_SCHEME_VERSION, MinHasher, Observation, Pattern, PatternName, SymbolOrder,
    vector_symbol,
};

fn pattern(events: &[&[&str]]) -> Pattern {
    events
        .iter()
        .map(|symbols| symbols.iter().copied().collect::<Event>())
        .collect()
}

/// Spec 3.1: every worked example of a pattern name.
#[test]
fn pattern_names_of_the_reference() {
    let cases: [(&[&[&str]], &str); 8] = [
        (
            &[&["hello"], &["world"]],
            "7d0678ba6305341ce0d25133ab086208656a562f",
        ),
        (
            &[&["a", "b"], &["c"]],
            "e9e43f2309079f2843665ab773996d99489306d6",
        ),
        (
            &[&["a"], &["b"], &["c"]],
            "b98534b32c1d7489d4ce1a48724aa65aeecbdba9",
        ),
        (
            &[&["A"], &["B"]],
            "3651a86de198b54b13e1d7a02407dc4faaa622ff",
        ),
        (&[&["a", "b"]], "395314cc2f2880a00c3e6e11f1e02d8b8c45a0e4"),
        (
            &[&["it's"], &["x"]],
            "271339250f33fe945c5a24f7deb31f02ce16ddb5",
        ),
        (
            &[&["café"], &["z"]],
            "b492ff4a08226f786a0393c80b8507e44c9d9184",
        ),
        (
            &[&["VCTR|abc", "hello"], &["world"]],
            "80b6548ec8c8bd489a175ceaa27d1ef237675077",
        ),
    ];
    for (events, hex) in cases {
        let name = pattern(events).name();
        assert_eq!(name.as_hex(), hex, "{events:?}");
        assert_eq!(name.to_string(), format!("PTRN|{hex}"));
        assert_eq!(hex.parse::<PatternName>().unwrap(), name);
    }
}

/// Names of patterns whose strings need escaping; expected values are SHA-1 of the text CPython
/// 3.12 prints for `str(pattern)`, shown next to each case.
#[test]
fn pattern_names_with_escapes() {
    let cases: [(&[&[&str]], &str); 7] = [
        // [['a\\b'], ['c']]
        (
            &[&["a\\b"], &["c"]],
            "928fef07414415b75a4768ca886c27dd52bfd169",
        ),
        // [['line\nbreak', 'tab\there']]
        (
            &[&["line\nbreak", "tab\there"]],
            "4f50161910f05f4862c7643e355ea2611502b685",
        ),
        // [['\x00\x1f\x7f\x85'], ['\r']]
        (
            &[&["\u{0}\u{1f}\u{7f}\u{85}"], &["\r"]],
            "43332df39ff42c379291d08bb6e8d109355f975e",
        ),
        // [['it\'s "quoted"'], ['x']]
        (
            &[&["it's \"quoted\""], &["x"]],
            "fcdf4eea5028ec493f768393c147fcc0f58d938c",
        ),
        // [['say "hi"'], ["don't"]]
        (
            &[&["say \"hi\""], &["don't"]],
            "2bb88574887df6938e9687ce51f4b808a4a1cf02",
        ),
        // [['\xa0\u200b\U000e0001', '😀日本'], ['']]
        (
            &[&["\u{a0}\u{200b}\u{e0001}", "😀日本"], &[""]],
            "39b9868a7dc6e5f7e01d12f5cacf52b9130477d6",
        ),
        // []
        (&[], "97d170e1550eee4afc0af065b78cda302a97674c"),
    ];
    for (events, hex) in cases {
        assert_eq!(pattern(events).name().as_hex(), hex, "{events:?}");
    }
}

fn vectors_observation(vectors: &[&[f64]]) -> Observation {
    Observation {
        vectors: vectors.iter().map(|v| v.to_vec()).collect(),
        ..Observation::default()
    }
}

/// Spec 2.4: every worked example of a vector symbol, plus its scientific-notation example.
#[test]
fn vector_symbols_of_the_reference() {
    let cases: [(&[&[f64]], &str); 6] = [
        (
            &[&[1.0, 0.0, 0.0, 0.0]],
            "2fb865b4597f2549eff7585cc6d16cc1fea9b5b5",
        ),
        (
            &[&[0.1, 0.2, 0.3]],
            "e09ff768f2b2a0f5d5e78932dc977709e8c35f57",
        ),
        (&[&[1.5, 2.25]], "79cd73fb4f9ee7ee184cdbcc4663981575339a2d"),
        (
            &[&[1.0, 2.0], &[3.0, 4.0]],
            "d4ae6976f832d22d69d3a980c3da5401f08b0b1a",
        ),
        (
            &[&[0.1, 0.2, 0.3], &[0.4, 0.5, 0.6]],
            "ee0a39daf6eec8cdf3b9300df582393377a30ef0",
        ),
        // `[9.9999999e+07 1.0000000e+00]`, checked with NumPy 2.4.
        (
            &[&[99999999.0, 1.0]],
            "d58e39d3662a0f65bcbc25d445b35ca9ccd1c178",
        ),
    ];
    for (vectors, hex) in cases {
        let event = vectors_observation(vectors)
            .to_event(SymbolOrder::Sorted)
            .unwrap()
            .unwrap();
        assert_eq!(event.symbols().len(), 1);
        assert_eq!(
            event.symbols()[0],
            format!("VCTR|{hex}").as_str(),
            "{vectors:?}"
        );
    }
}

/// `tests/it/data/numpy_array_str.jsonl`: 453 vectors printed by NumPy 2.4 (generator next to
/// it): positional and scientific notation, rounding to 8 digits, negative zero, nan and
/// infinities, line wrapping and summarisation.
#[test]
fn vector_symbols_match_numpy_corpus() {
    let corpus = include_str!("data/numpy_array_str.jsonl");
    let mut checked = 0;
    for line in corpus.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let values: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse().unwrap())
            .collect();
        let symbol = vector_symbol(&[values]).unwrap();
        assert_eq!(
            symbol.as_str(),
            case["name"].as_str().unwrap(),
            "NumPy printed {}",
            case["text"]
        );
        checked += 1;
    }
    assert_eq!(checked, 453);
}

/// Scheme version 1 values, computed independently by `tests/it/data/minhash_scheme_v1.py`. If
/// one of these changes, stored signatures and bands no longer match new ones: bump
/// `MINHASH_SCHEME_VERSION` and update the values together.
#[test]
fn minhash_scheme_version_1_is_pinned() {
    assert_eq!(MINHASH_SCHEME_VERSION, 1);
    let hasher = MinHasher::shared_default();
    let signature = hasher.signature(["hello", "world"]);
    assert_eq!(
        signature[..10],
        [
            2324080868, 266973387, 1072078940, 2138928005, 2098401183, 3555440910, 3324493493,
            408853892, 1689318570, 2184057816,
        ]
    );
    let bands = hasher.band_hashes(&signature).unwrap();
    assert_eq!(
        bands[..3],
        [
            16123425743879251005,
            18275409405675137736,
            11029574079888612487
        ]
    );
    let empty = hasher.signature(std::iter::empty::<&str>());
    assert_eq!(hasher.band_hashes(&empty).unwrap()[0], 11454044187877350533);
}
