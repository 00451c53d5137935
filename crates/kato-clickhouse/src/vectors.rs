//! Learned vectors (DESIGN.md section 9): written when a session learns, read whole by a
//! process's resident vector index and by name when it catches up with other processes.

use kato_core::KbId;

use crate::ClickHouseError;
use crate::candidates::NAMES_PER_QUERY;
use crate::rows::VectorRow;
use crate::writer::ClickHouseStore;

impl ClickHouseStore {
    /// Inserts learned vectors in one INSERT; resolves once ClickHouse acknowledged it. A
    /// vector inserted twice collapses to one row in merges, and reads dedupe by name.
    pub async fn insert_vectors(&self, rows: &[VectorRow]) -> Result<(), ClickHouseError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.bounded(async {
            let mut insert = self.client().insert::<VectorRow>("vectors").await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        })
        .await
    }

    /// Every learned vector of `kb`, one per name, oldest first (ties by name), so the first
    /// row is the kb's first learned vector.
    pub async fn vector_rows(&self, kb: &KbId) -> Result<Vec<VectorRow>, ClickHouseError> {
        self.bounded(
            self.client()
                .query(
                    "SELECT kb_id, name, components FROM vectors WHERE kb_id = ? \
                     ORDER BY learned_at, name LIMIT 1 BY name",
                )
                .bind(kb.as_str())
                .fetch_all::<VectorRow>(),
        )
        .await
    }

    /// The named vectors of `kb` that are stored, one per name, sorted by name.
    pub async fn vectors_by_names(
        &self,
        kb: &KbId,
        names: &[String],
    ) -> Result<Vec<VectorRow>, ClickHouseError> {
        let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
        names.sort_unstable();
        names.dedup();
        let mut rows = Vec::with_capacity(names.len());
        for chunk in names.chunks(NAMES_PER_QUERY) {
            let found = self
                .bounded(
                    self.client()
                        .query(
                            "SELECT kb_id, name, components FROM vectors \
                             WHERE kb_id = ? AND name IN ? ORDER BY name LIMIT 1 BY name",
                        )
                        .bind(kb.as_str())
                        .bind(chunk)
                        .fetch_all::<VectorRow>(),
                )
                .await?;
            rows.extend(found);
        }
        Ok(rows)
    }
}
