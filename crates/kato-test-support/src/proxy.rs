//! A TCP proxy in front of a real server, which a test can cut and restore to play an outage
//! of that server, or pause and resume to play a server that hangs, without disturbing the
//! other tests that share it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

/// Forwards 127.0.0.1:`port` to a target address while it is up.
#[derive(Debug)]
pub struct TcpProxy {
    listen: SocketAddr,
    target: SocketAddr,
    running: Arc<Mutex<Option<JoinSet<()>>>>,
    paused: watch::Sender<bool>,
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
            paused: watch::Sender::new(false),
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
        let paused = self.paused.clone();
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        tasks.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let paused = paused.subscribe();
                let mut guard = connections.lock().await;
                guard.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let (from_client, to_client) = client.split();
                        let (from_server, to_server) = server.split();
                        let _ = tokio::try_join!(
                            pump(from_client, to_server, paused.clone()),
                            pump(from_server, to_client, paused),
                        );
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

    /// Plays a server that hangs: connections are still accepted and kept open, but no byte
    /// goes through in either direction until [`TcpProxy::resume`].
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Restores the line: after [`TcpProxy::pause`] the bytes held meanwhile flow on; after
    /// [`TcpProxy::stop`] the proxy listens again on the same port.
    ///
    /// # Panics
    /// When the port cannot be bound again.
    pub async fn resume(&self) {
        self.paused.send_replace(false);
        if self.running.lock().await.is_some() {
            return;
        }
        let listener = TcpListener::bind(self.listen)
            .await
            .expect("rebind the proxy port");
        self.serve(listener).await;
    }
}

/// Copies `from` to `to` until end of stream, holding everything while the proxy is paused:
/// at most one buffer waits here, the rest in the sockets (TCP flow control), and an end of
/// stream is passed on only once the bytes before it were.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut paused: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        // The sender goes only with the proxy, which aborts its connections anyway.
        if paused.wait_for(|paused| !paused).await.is_err() {
            return Ok(());
        }
        let read = from.read(&mut buffer).await?;
        if paused.wait_for(|paused| !paused).await.is_err() {
            return Ok(());
        }
        if read == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buffer[..read]).await?;
    }
}
