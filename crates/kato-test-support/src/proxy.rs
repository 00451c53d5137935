//! A TCP proxy in front of a real server, which a test can cut and restore to play an outage
//! of that server without disturbing the other tests that share it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// Forwards 127.0.0.1:`port` to a target address while it is up.
#[derive(Debug)]
pub struct TcpProxy {
    listen: SocketAddr,
    target: SocketAddr,
    running: Arc<Mutex<Option<JoinSet<()>>>>,
}

impl TcpProxy {
    /// Starts a proxy to the host:port of `target_url` (e.g. `http://127.0.0.1:8123`).
    ///
    /// # Panics
    /// When the URL has no host:port or no local port can be bound (a broken test setup).
    pub async fn start(target_url: &str) -> Self {
        let authority = target_url
            .split("://")
            .nth(1)
            .unwrap_or(target_url)
            .split('/')
            .next()
            .unwrap_or_default();
        let target: SocketAddr = authority
            .parse()
            .unwrap_or_else(|e| panic!("{target_url} has no ip:port: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a proxy port");
        let listen = listener.local_addr().expect("proxy address");
        let proxy = Self {
            listen,
            target,
            running: Arc::new(Mutex::new(None)),
        };
        proxy.serve(listener).await;
        proxy
    }

    /// The proxy's URL with `scheme` (e.g. `http`).
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.listen)
    }

    async fn serve(&self, listener: TcpListener) {
        let mut tasks = JoinSet::new();
        let target = self.target;
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        tasks.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut guard = connections.lock().await;
                guard.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        *self.running.lock().await = Some(tasks);
    }

    /// Cuts the line: stops listening and drops every open connection.
    pub async fn stop(&self) {
        if let Some(mut tasks) = self.running.lock().await.take() {
            // Aborting the accept loop drops the listener and the set of connection tasks,
            // which aborts every connection.
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Restores the line on the same port.
    ///
    /// # Panics
    /// When the port cannot be bound again.
    pub async fn resume(&self) {
        let listener = TcpListener::bind(self.listen)
            .await
            .expect("rebind the proxy port");
        self.serve(listener).await;
    }
}
