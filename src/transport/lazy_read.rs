//! A read buffer that exists only while bytes are arriving.
//!
//! tungstenite keeps a read buffer per connection for the connection's whole life, filled (so
//! resident) on the first read: with the 8 KiB it used to get here, that buffer was a third of what
//! an idle connected client costs. [`LazyReadBuffer`] sits under tungstenite instead: tungstenite
//! gets a small buffer of its own (a frame header and small frames), and this layer reads the socket
//! in large chunks into a buffer it allocates when data comes and frees as soon as the socket has
//! nothing more to give (the read would block) and the buffer is drained. A burst costs one
//! allocation per socket wake-up, not per frame; an idle client holds nothing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How much is read from the socket per system call while data is arriving.
const CHUNK: usize = 32 * 1024;

pub struct LazyReadBuffer<S> {
    inner: S,
    /// Bytes read from the socket and not yet handed to the reader: `buf[pos..]`. Empty with no
    /// capacity while idle.
    buf: Vec<u8>,
    pos: usize,
}

impl<S> LazyReadBuffer<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, buf: Vec::new(), pos: 0 }
    }

    /// Bytes held for the reader (a test hook: 0 capacity while idle).
    #[cfg(test)]
    fn held_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LazyReadBuffer<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos == this.buf.len() {
            // Nothing buffered: a large read goes straight into the caller's buffer.
            if out.remaining() >= CHUNK {
                return Pin::new(&mut this.inner).poll_read(cx, out);
            }
            this.buf.clear();
            this.pos = 0;
            this.buf.reserve_exact(CHUNK);
            let mut chunk = ReadBuf::uninit(&mut this.buf.spare_capacity_mut()[..CHUNK]);
            match Pin::new(&mut this.inner).poll_read(cx, &mut chunk) {
                Poll::Ready(Ok(())) => {
                    let n = chunk.filled().len();
                    // SAFETY: `n` bytes of the spare capacity were initialised by the read.
                    unsafe { this.buf.set_len(n) };
                    if n == 0 {
                        this.buf = Vec::new();
                        return Poll::Ready(Ok(()));
                    }
                }
                other => {
                    // Idle (or failed): give the buffer back.
                    this.buf = Vec::new();
                    return other;
                }
            }
        }
        let available = &this.buf[this.pos..];
        let n = available.len().min(out.remaining());
        out.put_slice(&available[..n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LazyReadBuffer<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn hands_over_every_byte_in_order_and_holds_nothing_while_idle() {
        let (client, mut server) = tokio::io::duplex(256 * 1024);
        let mut reader = LazyReadBuffer::new(client);
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        server.write_all(&data).await.unwrap();
        let mut got = Vec::new();
        let mut small = [0u8; 1000];
        while got.len() < data.len() {
            let n = reader.read(&mut small).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data);
        // Drained, and the next read would block: the buffer is released.
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), reader.read(&mut small)).await;
        assert!(pending.is_err(), "a read with nothing sent completed: {pending:?}");
        assert_eq!(reader.held_capacity(), 0);
        // End of stream still reads as 0.
        drop(server);
        assert_eq!(reader.read(&mut small).await.unwrap(), 0);
    }
}
