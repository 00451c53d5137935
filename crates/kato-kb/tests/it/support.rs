//! A knowledge base per test: its own ClickHouse database and kb ids, removed at the end.

use std::collections::BTreeMap;

use kato_core::{Event, KbId, Pattern, Symbol};
use kato_kb::{KnowledgeBase, KnowledgeBaseConfig, LearnContext};

pub(crate) struct TestKb {
    pub(crate) kb: KnowledgeBase,
    pub(crate) database: String,
}

impl TestKb {
    /// A knowledge base over fresh database, or `None` when the test should skip.
    pub(crate) async fn start(test: &str) -> Option<Self> {
        let clickhouse = kato_test_support::clickhouse_url(test)?;
        let redis = kato_test_support::redis_url(test)?;
        Some(Self::with_urls(&clickhouse, &redis).await)
    }

    pub(crate) async fn with_urls(clickhouse: &str, redis: &str) -> Self {
        let database = kato_test_support::unique_kb_id("db");
        let mut config = KnowledgeBaseConfig::new(clickhouse, redis);
        config.clickhouse_database.clone_from(&database);
        let kb = KnowledgeBase::connect(config).await.expect("connect");
        Self { kb, database }
    }

    /// Clears the kbs from Redis and drops the database.
    pub(crate) async fn finish(self, kbs: &[&KbId]) {
        for kb in kbs {
            self.kb
                .redis()
                .delete_all_metadata(kb)
                .await
                .expect("clear redis");
        }
        self.kb
            .clickhouse()
            .client()
            .query("DROP DATABASE ?")
            .bind(clickhouse::sql::Identifier(&self.database))
            .execute()
            .await
            .expect("drop database");
    }
}

pub(crate) fn kb_id(label: &str) -> KbId {
    KbId::new(kato_test_support::unique_kb_id(label)).expect("valid kb id")
}

pub(crate) fn pattern(events: &[&[&str]]) -> Pattern {
    events
        .iter()
        .map(|event| Event::new(event.iter().map(|s| Symbol::new(*s)).collect()))
        .collect()
}

/// A context with one emotive map per (key, value) list.
pub(crate) fn emotives(maps: &[&[(&str, f64)]]) -> LearnContext {
    LearnContext {
        emotives: maps
            .iter()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| ((*k).to_owned(), *v))
                    .collect::<BTreeMap<_, _>>()
            })
            .collect(),
        ..LearnContext::default()
    }
}
