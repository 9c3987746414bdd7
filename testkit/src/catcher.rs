//! A minimal SMTP server on loopback that accepts every message and counts it: the "local
//! catcher" for the benchmark's issue-with-SMTP measurement, so the catcher costs the
//! server nothing, and a mail server that comes back for the resend tests.

use anyhow::Result;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A running catcher; it serves until the runtime that started it ends.
pub struct Catcher {
    /// The loopback port it listens on.
    pub port: u16,
    delivered: Arc<AtomicUsize>,
}

impl Catcher {
    /// How many messages it has accepted so far.
    pub fn delivered(&self) -> usize {
        self.delivered.load(Ordering::Relaxed)
    }
}

/// A catcher on a free loopback port.
pub async fn start() -> Result<Catcher> {
    start_on(0).await
}

/// A catcher on a given loopback port (0: any free one).
pub async fn start_on(port: u16) -> Result<Catcher> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let port = listener.local_addr()?.port();
    let delivered = Arc::new(AtomicUsize::new(0));
    let counter = delivered.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let _ = session(socket, counter).await;
            });
        }
    });
    Ok(Catcher { port, delivered })
}

async fn session(socket: tokio::net::TcpStream, delivered: Arc<AtomicUsize>) -> Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 catcher ESMTP\r\n").await?;
    let mut line = String::new();
    let mut in_data = false;
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if in_data {
            if line == ".\r\n" || line == ".\n" {
                in_data = false;
                delivered.fetch_add(1, Ordering::Relaxed);
                write.write_all(b"250 OK queued\r\n").await?;
            }
            continue;
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-catcher\r\n250 8BITMIME\r\n",
            "HELO" => b"250 catcher\r\n",
            "DATA" => {
                in_data = true;
                b"354 go ahead\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 OK\r\n",
        };
        write.write_all(reply).await?;
    }
}
