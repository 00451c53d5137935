//! Node ids to kb ids, exactly as the reference's `ProcessorManager._get_processor_id` (spec
//! `api-and-storage.md` section 0), then validated as a [`KbId`] (DESIGN.md section 3): every
//! node id gives a kb id, whatever its characters (the node id's byte limit is checked before).

use kato_core::{CoreError, KbId};
use md5::{Digest, Md5};

/// The reference's longest kb id; longer ones are cut and get a hash of the node id.
const MAX_KB_ID_CHARS: usize = 60;

/// The kb id of `node_id` for a service named `service_name`.
pub(crate) fn kb_id_for_node(node_id: &str, service_name: &str) -> Result<KbId, CoreError> {
    let node: String = node_id
        .chars()
        .map(|c| match c {
            '/' | '\\' | '.' | '"' | '$' | '*' | '<' | '>' | ':' | '|' | '?' | '-' | ' ' => '_',
            other => other,
        })
        .collect();
    let base = service_name.replace('-', "_");
    let kb_id = format!("{node}_{base}");
    if kb_id.chars().count() <= MAX_KB_ID_CHARS {
        return KbId::new(kb_id);
    }
    let digest = Md5::digest(node.as_bytes());
    let hash: String = digest
        .iter()
        .take(4)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let keep = MAX_KB_ID_CHARS.saturating_sub(base.chars().count() + 10);
    let cut: String = node.chars().take(keep).collect();
    KbId::new(format!("{cut}_{hash}_{base}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(node: &str) -> String {
        kb_id_for_node(node, "kato").unwrap().as_str().to_owned()
    }

    #[test]
    fn the_reference_examples() {
        assert_eq!(kb("user-123"), "user_123_kato");
        assert_eq!(kb("my.node/a b"), "my_node_a_b_kato");
        let long = "n".repeat(70);
        assert_eq!(kb(&long), format!("{}_a3c65bb3_kato", "n".repeat(46)));
        assert_eq!(kb(&long).len(), 60);
    }

    #[test]
    fn the_service_name_is_the_suffix() {
        let kb = kb_id_for_node("a", "my-service").unwrap();
        assert_eq!(kb.as_str(), "a_my_service");
    }

    #[test]
    fn every_node_id_gives_the_reference_kb_id() {
        assert_eq!(kb("user@example"), "user@example_kato");
        assert_eq!(kb("café"), "café_kato");
        assert_eq!(kb("{other_kb}"), "{other_kb}_kato");
        assert_eq!(
            kb("test_threshold[0.1-True]_1763040555614_9ea384e2"),
            "test_threshold[0_1_True]_1763040555614_9ea384e2_kato"
        );
        assert_eq!(kb(""), "_kato");
        assert_eq!(kb("a\tb\n"), "a\tb\n_kato");
        // Cut by characters, as the reference's Python does.
        let wide = "ü".repeat(70);
        let cut = kb(&wide);
        assert_eq!(cut.chars().count(), 60, "{cut}");
        assert!(cut.starts_with(&"ü".repeat(46)), "{cut}");
    }
}
