//! TCP ingress: a listener the national system connects to, or a connection the adapter
//! makes (reconnecting with backoff); frames back to back through a [`StreamDecoder`].

#[allow(clippy::wildcard_imports)]
use super::*;

async fn read_stream<C: NationalCodec>(
    mut stream: TcpStream,
    codec: Arc<C>,
    label: &Arc<str>,
    tx: &InboundTx<C::Frame>,
    shutdown: &CancellationToken,
) -> Result<(), std::io::Error> {
    let mut dec = StreamDecoder::new(codec);
    loop {
        let n = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            r = dec.read_buf(&mut stream) => r?,
        };
        let received_at = Utc::now();
        if n == 0 {
            if let Some(rest) = dec.finish() {
                forward(tx, label, received_at, [Err(rest)]).await;
            }
            return Ok(());
        }
        let mut items = Vec::new();
        while let Some(item) = dec.next_item() {
            items.push(item);
        }
        for _ in items.iter().filter(|i| i.is_ok()) {
            events::received(C::NATION, label, n);
        }
        if !forward(tx, label, received_at, items).await {
            return Ok(());
        }
    }
}

/// Accept national clients and read frames from each until `shutdown`.
pub async fn run_tcp_server_in<C: NationalCodec + Send + Sync + 'static>(
    listener: TcpListener,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    loop {
        let acc = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match acc {
            Ok((stream, peer)) => {
                tracing::info!(transport = %label, %peer, "national client connected");
                let (codec, label, tx, sd) =
                    (codec.clone(), label.clone(), tx.clone(), shutdown.clone());
                tokio::spawn(async move {
                    if let Err(e) = read_stream(stream, codec, &label, &tx, &sd).await {
                        tracing::warn!(transport = %label, %peer, error = %e, "national client read failed");
                    }
                    tracing::info!(transport = %label, %peer, "national client disconnected");
                });
            }
            Err(e) => {
                tracing::warn!(transport = %label, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Connect to the national system and read frames; reconnect with backoff until `shutdown`.
pub async fn run_tcp_client_in<C: NationalCodec>(
    addr: SocketAddr,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        let conn = tokio::select! {
            () = shutdown.cancelled() => return,
            c = TcpStream::connect(addr) => c,
        };
        let err = match conn {
            Ok(stream) => {
                backoff.reset();
                events::connected(C::NATION, &label);
                let _ = stream.set_nodelay(true);
                tracing::info!(transport = %label, "connected to national system");
                match read_stream(stream, codec.clone(), &label, &tx, &shutdown).await {
                    Ok(()) => String::from("connection closed"),
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        if shutdown.is_cancelled() || tx.is_closed() {
            return;
        }
        events::reconnect(C::NATION, &label, &err);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}
