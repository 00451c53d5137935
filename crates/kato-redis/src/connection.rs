//! [`RedisConnection`]: one handle over a standalone Redis or a Redis Cluster.
//!
//! Every command kato sends names keys of one slot (a kb's keys share the kb's hash tag, a
//! session's keys the session's), so scripts and pipelines run unchanged on a cluster; the
//! cluster client routes each to the primary serving that slot. Two things do not route by
//! key and are handled here: `SCAN` (sent to the node serving the kb's slot) and a batch of
//! single-key commands over many slots (pipelined on one server, sent one by one to a
//! cluster).

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, Value};

use crate::{RedisConfig, RedisError};

/// A multiplexed, self-reconnecting connection to a standalone Redis or a Redis Cluster.
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisConnection {
    server: Server,
}

#[derive(Clone)]
enum Server {
    /// One Redis server.
    Standalone(ConnectionManager),
    /// A Redis Cluster, reached through its primaries.
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnection")
            .field("cluster", &self.is_cluster())
            .finish_non_exhaustive()
    }
}

/// `url` with any password replaced by `***`, for messages and status pages; a list of cluster
/// nodes is masked node by node.
pub fn without_password(url: &str) -> String {
    url.split(',')
        .map(|node| match (node.find("://"), node.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &node[scheme_end + 3..at];
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                format!("{}{user}:***{}", &node[..scheme_end + 3], &node[at..])
            }
            _ => node.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Opens a connection to `url` with the connect and response timeouts of `config`.
///
/// `url` is one server (`redis://127.0.0.1:6379`) or, for a Redis Cluster, a comma-separated
/// list of at least two of its nodes (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`), from
/// which the client learns the rest of the cluster.
pub async fn connect(url: &str, config: &RedisConfig) -> Result<RedisConnection, RedisError> {
    let invalid = |source| RedisError::InvalidUrl {
        url: without_password(url),
        source,
    };
    let nodes: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|node| !node.is_empty())
        .collect();
    if nodes.len() > 1 {
        // No retries: the client would send a command again after a dropped connection, and
        // a learn script or an INCR that ran before the reply was lost must not run twice.
        // After a reshard or failover the first command to a moved slot fails (the caller
        // sees 503) and the client refreshes its slot map.
        let client = redis::cluster::ClusterClient::builder(nodes)
            .connection_timeout(config.connect_timeout)
            .response_timeout(config.response_timeout)
            .retries(0)
            .build()
            .map_err(invalid)?;
        return Ok(RedisConnection::new(Server::Cluster(
            client.get_async_connection().await?,
        )));
    }
    let client = redis::Client::open(nodes.first().copied().unwrap_or(url)).map_err(invalid)?;
    let manager_config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.response_timeout))
        .set_number_of_retries(2);
    Ok(RedisConnection::new(Server::Standalone(
        ConnectionManager::new_with_config(client, manager_config).await?,
    )))
}

impl RedisConnection {
    fn new(server: Server) -> Self {
        Self { server }
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.server, Server::Cluster(_))
    }

    /// One `SCAN` page of keys matching `pattern`, from the server holding `slot_key`'s slot
    /// (on a cluster each node scans only its own keys, and a pattern under one hash tag
    /// matches keys of that one slot).
    pub(crate) async fn scan_page(
        &mut self,
        slot_key: &str,
        cursor: u64,
        pattern: &str,
        count: usize,
    ) -> Result<(u64, Vec<String>), RedisError> {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count);
        let reply = match &mut self.server {
            Server::Standalone(_) => scan.query_async(self).await?,
            Server::Cluster(connection) => {
                let route = Route::with_key(slot_key, SlotAddr::Master);
                connection
                    .route_command(
                        scan,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await?
            }
        };
        Ok(redis::from_redis_value(reply).map_err(redis::RedisError::from)?)
    }

    /// The replies to `commands`, each naming keys of one slot but the slots differing: one
    /// pipeline on a standalone server, one command after another on a cluster (where a
    /// pipeline must stay within one slot).
    pub(crate) async fn query_each<T: FromRedisValue>(
        &mut self,
        commands: Vec<Cmd>,
    ) -> Result<Vec<T>, RedisError> {
        if self.is_cluster() {
            let mut replies = Vec::with_capacity(commands.len());
            for command in commands {
                replies.push(command.query_async(self).await?);
            }
            return Ok(replies);
        }
        let mut pipe = redis::pipe();
        for command in commands {
            pipe.add_command(command);
        }
        Ok(pipe.query_async(self).await?)
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.server {
            Server::Standalone(connection) => connection.req_packed_command(cmd),
            Server::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.server {
            Server::Standalone(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            Server::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.server {
            Server::Standalone(connection) => connection.get_db(),
            Server::Cluster(connection) => connection.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            without_password("redis://user:s3cret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(without_password("redis://host:6379"), "redis://host:6379");
        assert_eq!(
            without_password("redis://:a@h1:7000,redis://h2:7001,redis://u:b@h3:7002"),
            "redis://:***@h1:7000,redis://h2:7001,redis://u:***@h3:7002"
        );
    }
}
