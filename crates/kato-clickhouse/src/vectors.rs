//! Learned vectors (DESIGN.md section 9): written when a session learns, read whole by a
//! process's resident vector index and by name when it catches up with other processes.

use kato_core::KbId;

use crate::ClickHouseError;
use crate::candidates::{NAMES_PER_QUERY, RowStream};
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

    /// Streams every learned vector of `kb`, in no particular order, for loading a resident
    /// vector index. A vector inserted more than once may come more than once until merges
    /// collapse it: callers dedupe by name.
    pub fn stream_vectors(&self, kb: &KbId) -> Result<RowStream<VectorRow>, ClickHouseError> {
        let cursor = self
            .client()
            .query("SELECT kb_id, name, components FROM vectors WHERE kb_id = ?")
            .bind(kb.as_str())
            .fetch::<VectorRow>()?;
        Ok(RowStream::new(cursor, self.timeout()))
    }

    /// The dimension of `kb`'s oldest stored vector; `None` when it has none.
    pub async fn oldest_vector_dimension(
        &self,
        kb: &KbId,
    ) -> Result<Option<usize>, ClickHouseError> {
        let found = self
            .bounded(
                self.client()
                    .query(
                        "SELECT length(components) FROM vectors WHERE kb_id = ? \
                         ORDER BY learned_at, name LIMIT 1",
                    )
                    .bind(kb.as_str())
                    .fetch_optional::<u64>(),
            )
            .await?;
        Ok(found.and_then(|dimension| usize::try_from(dimension).ok()))
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
